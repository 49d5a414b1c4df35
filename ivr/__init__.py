"""IVR menus executed over FastAGI (a later issue)."""
