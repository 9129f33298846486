"""`/api/v1`: the management API of a tenant (used by the console), tenant-scoped.

Every route takes the tenant from the path and checks it against the caller with
`require_tenant`: another tenant's resources answer 404, exactly like missing ones.
"""
