"""Services: the only code that writes. Each public call is one transaction."""
