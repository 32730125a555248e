"""The admin console under /admin: one module per area, one permission table (`permissions`).

Collections are plural (`/admin/staff`, `/admin/pcs`, `/admin/terminals`); one item is singular
(`/admin/account/{id}`, `/admin/pc/{id}`, `/admin/terminal/{id}`), so no ID can collide with a
page name such as "new" or "import".
"""
