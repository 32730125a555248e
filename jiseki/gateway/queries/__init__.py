"""What the web pages read, one module per area, each function named for what it answers.

The handlers in `web/` parse the request, call these (and the domain operations in `admin`, `hosts`,
`terminals`, `auth`, `session_request`…) and render; they hold no SQL of their own. Every function
takes the caller's `AsyncSession`: one page's reads share one pooled connection, taken once.
"""
