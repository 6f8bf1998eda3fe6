"""The subscription site: sign up, confirm, unsubscribe, preferences, feedback, archive.

``digest.web.app.create_app`` builds the ASGI app; ``digest web`` serves it with uvicorn.
"""
