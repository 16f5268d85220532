"""Protocol tests of the mock KIS server (kis_async.mock)."""
