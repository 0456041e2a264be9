"""CORS for the textbook's browser page: Starlette's CORSMiddleware, configured from the settings.

The settings are read when the app starts (lifespan), after the middleware stack exists, so this outermost
middleware builds the CORSMiddleware on the first request. Without CHAT_ALLOWED_ORIGINS it passes requests through.
"""
from fastapi.middleware.cors import CORSMiddleware
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse


class SettingsCORS:
    def __init__(self, app, state):
        self.app, self.state, self.cors = app, state, (None, None)

    async def __call__(self, scope, receive, send):
        settings = self.state.get("settings")
        if scope["type"] != "http" or settings is None or not settings.allowed_origins:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if self._is_preflight(scope, headers) and origin not in settings.allowed_origins:
            # Starlette would answer with Access-Control-Allow-Methods etc.; another origin learns nothing.
            await PlainTextResponse("Disallowed CORS origin", status_code=400, headers={"Vary": "Origin"})(
                scope, receive, send)
            return
        await self._middleware(settings)(scope, receive, send)

    @staticmethod
    def _is_preflight(scope, headers):
        return scope["method"] == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers

    def _middleware(self, settings):
        built_for, middleware = self.cors
        if built_for is not settings:  # first request, or the app was started again with other settings
            middleware = CORSMiddleware(self.app, allow_origins=list(settings.allowed_origins),
                                        allow_methods=["GET", "POST"], allow_headers=["Content-Type"],
                                        max_age=settings.cors_max_age)
            self.cors = (settings, middleware)
        return middleware
