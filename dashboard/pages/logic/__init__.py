"""Each page's pure logic, importable by tests: Dash imports only the page modules that register a page."""
