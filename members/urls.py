"""Member library profile pages."""

urlpatterns: list = []
