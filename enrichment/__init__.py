"""AI enrichment jobs that write machine suggestions with provenance into their own graphs."""
