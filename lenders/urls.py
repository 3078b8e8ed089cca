"""The lender directory's pages (the team's; library staff get lenders' availability)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.lender_list, name="lender_list"),
    path("<int:pk>/", views.lender_detail, name="lender_detail"),
    path(
        "<int:pk>/availability/",
        views.lender_availability_new,
        name="lender_availability_new",
    ),
]
