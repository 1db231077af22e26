"""Widgets and conventions every page shares: ids, URL state, components, explanations, the epoch slider."""
