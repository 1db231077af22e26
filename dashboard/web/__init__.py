"""The web server around Dash: health check, basic authentication, callback-body checks, error pages."""
