"""What a disc is coded for. A DVD plays only on a player of its region and a video only
in its encoding, so a library's profile says what its players take and a request for a
disc asks for that (a PAL disc is no use to a patron with a US player)."""

from django.db import models


class DvdRegion(models.TextChoices):
    REGION_0 = "0", "Region 0 (not coded)"
    REGION_1 = "1", "Region 1 (US, Canada)"
    REGION_2 = "2", "Region 2 (Europe, Japan, Middle East)"
    REGION_3 = "3", "Region 3 (Southeast Asia)"
    REGION_4 = "4", "Region 4 (Australia, Latin America)"
    REGION_5 = "5", "Region 5 (Africa, Russia, South Asia)"
    REGION_6 = "6", "Region 6 (China)"


class VideoEncoding(models.TextChoices):
    NTSC = "ntsc", "NTSC"
    PAL = "pal", "PAL"
    SECAM = "secam", "SECAM"
