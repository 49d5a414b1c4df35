"""The embedded CRM on SQLite. Start at crm_core/service.py (the Crm facade and its surface)."""
