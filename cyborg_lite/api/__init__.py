"""The REST API: a falcon WSGI app speaking Cyborg's v2 API plus cyborg-lite's additions."""
