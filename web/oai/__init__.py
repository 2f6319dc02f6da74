"""OAI-PMH 2.0 (https://www.openarchives.org/OAI/openarchivesprotocol.html) over the change log.

Like Flask's ``sansio`` core, the protocol here does no I/O of its own and knows no request globals:
``protocol.Repository.respond(arguments)`` takes the request's arguments and returns the XML bytes.
``views`` is the thin Flask adapter (GET and POST). One module per concern of the specification:

- ``errors``  the eight OAI error codes, as exception classes (section 3.6);
- ``tokens``  resumption tokens that carry their own state, signed (section 3.5);
- ``sets``    the set hierarchy: per dataset and per EDM type (section 4.6);
- ``formats`` the metadata formats: ``edm`` and ``oai_dc`` (section 4.4);
- ``protocol`` argument checking and the six verbs (section 4).
"""
