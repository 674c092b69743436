"""One router per audience: `auth` (everyone), `shopper` (the mobile app), `ops` (operations)."""
