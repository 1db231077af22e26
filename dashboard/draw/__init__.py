"""The Draw page's machinery: decoding and preprocessing a digit, the live model, the page's layout pieces."""
