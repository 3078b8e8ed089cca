"""Regions become a list the admin keeps: every region a library names today is on it,
one row per spelling in any case (the admin may then merge them by editing profiles)."""

import core.text
import django.db.models.functions.text
import members.models
from django.db import migrations, models


def regions_in_use(apps, schema_editor):
    Region = apps.get_model("members", "Region")
    MemberLibrary = apps.get_model("members", "MemberLibrary")
    kept: dict[str, str] = {}
    for name in MemberLibrary.objects.order_by("region").values_list("region", flat=True):
        kept.setdefault(name.upper(), name)
    Region.objects.bulk_create(Region(name=name) for name in kept.values())
    # A spelling that differs only in case from the kept one becomes the kept one.
    for name in MemberLibrary.objects.values_list("region", flat=True).distinct():
        if kept[name.upper()] != name:
            MemberLibrary.objects.filter(region=name).update(region=kept[name.upper()])


class Migration(migrations.Migration):

    dependencies = [
        ('members', '0003_library_disc_preferences'),
    ]

    operations = [
        migrations.AlterField(
            model_name='historicalmemberlibrary',
            name='region',
            field=core.text.OneLineField(db_index=True, max_length=60, validators=[members.models.known_region]),
        ),
        migrations.AlterField(
            model_name='memberlibrary',
            name='region',
            field=core.text.OneLineField(db_index=True, max_length=60, validators=[members.models.known_region]),
        ),
        migrations.CreateModel(
            name='Region',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', core.text.OneLineField(max_length=60, unique=True)),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.UniqueConstraint(django.db.models.functions.text.Upper('name'), name='region_name_unique_any_case', violation_error_message='There is a region of this name already.')],
            },
        ),
        migrations.RunPython(regions_in_use, migrations.RunPython.noop),
    ]
