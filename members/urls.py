"""Member library profile pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.library_list, name="library_list"),
    path("<int:pk>/", views.library_detail, name="library_detail"),
    path("<int:pk>/edit/", views.library_edit, name="library_edit"),
]
