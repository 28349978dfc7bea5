"""Use cases: what a request or an RPC does beyond reading, one module per noun.

Each function runs in the caller's transaction and makes no remote call; the caller (an API
responder or a conductor endpoint) commits, then talks to other services.
"""
