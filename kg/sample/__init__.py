"""The bundled sample collection (Tate, CC0 metadata): data files and ``tate.mapping.toml``.

A package only so that its files ship with the project; see README.md here for provenance."""
