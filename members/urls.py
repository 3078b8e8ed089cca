"""Member library profile pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.library_list, name="library_list"),
    path("<int:pk>/", views.library_detail, name="library_detail"),
    path("<int:pk>/edit/", views.library_edit, name="library_edit"),
    path("<int:pk>/staff/", views.library_staff, name="library_staff"),
    path("<int:pk>/staff/invite/", views.staff_invite, name="staff_invite"),
    path(
        "<int:pk>/staff/<int:member_pk>/invite-again/",
        views.staff_invite_again,
        name="staff_invite_again",
    ),
    path(
        "<int:pk>/staff/<int:member_pk>/deactivate/",
        views.staff_deactivate,
        name="staff_deactivate",
    ),
]
