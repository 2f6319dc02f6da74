"""The store and everything that writes it: store access, ingest readers, mappings, change log, dump/restore."""
