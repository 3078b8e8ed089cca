"""The lender directory's pages."""

urlpatterns: list = []
