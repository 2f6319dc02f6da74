"""HTTP face and command line: app factory, route table, pages, CLI."""
