"""Regions are a list the admin keeps: a library's region is chosen from it, so a typo
cannot drop a library out of the team's region filter."""

import importlib

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.urls import reverse

from members.models import MemberLibrary, Region
from tests.members.test_library_profiles import as_admin, as_rita, edit, profile

__all__ = ["as_admin", "as_rita"]  # the fixtures, shared with the profile tests


def test_a_region_not_on_the_list_is_refused_beside_its_field(as_admin, library_one):
    page = as_admin.get(edit(library_one)).content.decode()
    assert '<option value="Western">Western</option>' in page
    refused = as_admin.post(edit(library_one), profile(library_one, region="Westrn"))
    assert refused.status_code == 400
    assert "region" in refused.context["form"].errors
    library_one.refresh_from_db()
    assert library_one.region == "Northeast"
    moved = as_admin.post(edit(library_one), profile(library_one, region="Western"))
    assert moved.status_code == 302
    library_one.refresh_from_db()
    assert library_one.region == "Western"


def test_the_model_refuses_it_whichever_door(library_one):
    library_one.region = "Atlantis"
    with pytest.raises(ValidationError) as refused:
        library_one.full_clean()
    assert "not one of the service's regions" in str(refused.value.message_dict["region"])


def test_the_admin_chooses_from_the_list_and_keeps_a_region_in_use(as_admin, library_one, regions):
    form = as_admin.get(reverse("admin:members_memberlibrary_change", args=[library_one.pk]))
    assert '<select name="region"' in form.content.decode()
    unused = Region.objects.create(name="Cape and Islands")
    region_admin = admin.site._registry[Region]
    request = form.wsgi_request
    assert not region_admin.has_delete_permission(request, regions[0])  # Northeast: Abbot's
    assert region_admin.has_delete_permission(request, unused)
    assert "delete_selected" not in region_admin.get_actions(request)
    # Renamed under its libraries, they would name no region: its name is kept.
    assert region_admin.get_readonly_fields(request, regions[0]) == ("name",)
    assert region_admin.get_readonly_fields(request, unused) == ()
    renamed = as_admin.post(
        reverse("admin:members_region_change", args=[regions[0].pk]), {"name": "North East"}
    )
    assert renamed.status_code == 302
    regions[0].refresh_from_db()
    assert regions[0].name == "Northeast"


def test_the_queue_says_when_no_region_has_that_name(as_rita, library_one):
    page = as_rita.get("/queue/?region=Westrn")
    assert "No region of the service is called “Westrn”." in page.content.decode()
    assert "No region" not in as_rita.get("/queue/?region=western").content.decode()


def test_the_migration_lists_every_region_in_use_once(db):
    migration = importlib.import_module("members.migrations.0004_regions")
    for code, region in (("A", "Western"), ("B", "western"), ("C", "Boston")):
        MemberLibrary.objects.create(
            name=code, ill_code=code, bpl_number=code.encode().hex(), library_type="public",
            region=region,
        )  # fmt: skip
    Region.objects.all().delete()

    migration.regions_in_use(apps, None)

    assert sorted(Region.objects.values_list("name", flat=True)) == ["Boston", "Western"]
    assert set(MemberLibrary.objects.values_list("region", flat=True)) == {"Boston", "Western"}


def test_the_regions_list_counts_libraries_in_one_query(as_admin, library_one, library_two):
    from tests.queries import captured

    Region.objects.create(name="Cape and Islands")
    as_admin.get(reverse("admin:members_region_changelist"))  # warm the session
    with captured() as queries:
        page = as_admin.get(reverse("admin:members_region_changelist"))
    counts = {r.name: r.library_count for r in page.context["cl"].result_list}
    assert counts == {"Cape and Islands": None, "Northeast": 1, "Western": 1}
    per_row = [
        q for q in queries if q.startswith('SELECT COUNT(*) AS "__count" FROM "members_memb')
    ]
    assert not per_row
