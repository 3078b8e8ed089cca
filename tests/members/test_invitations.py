"""Inviting staff: an e-mailed link to set one's own password (single use, expiring);
the team manages any library's staff, a library's lead its own and nobody else's."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from members import invitations
from members.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead(library_one):
    return User.objects.create_user(
        "lena", "lena@abbot.example.org", "a long password 1", role="library_staff",
        library=library_one, is_library_lead=True, first_name="Lena", last_name="Lead",
    )  # fmt: skip


def link_in(mail) -> str:
    url = next(word for word in mail.body.split() if "/accounts/welcome/" in word)
    return "/" + url.split("://", 1)[1].split("/", 1)[1]


def test_the_team_invites_a_new_colleague_who_sets_a_password_once(
    client, rita, library_one, mailoutbox
):
    member = invitations.invite_new(
        rita, library_one, first_name="Noor", last_name="New", email="Noor.New@Abbot.example.org"
    )
    assert (member.username, member.email, member.library) == (
        "noor.new", "noor.new@abbot.example.org", library_one,
    )  # fmt: skip
    assert not member.has_usable_password() and member.invited_by == rita
    (mail,) = mailoutbox
    assert mail.to == ["noor.new@abbot.example.org"] and "noor.new" in mail.body
    assert "password" not in mail.body.split("link")[0].lower().replace("choose your password", "")

    form = client.get(link_in(mail), follow=True)
    assert "Welcome to illdesk" in form.content.decode()
    done = client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "my own long password", "new_password2": "my own long password"},
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/login/"
    assert User.objects.get(pk=member.pk).check_password("my own long password")
    assert (
        "already been used or has expired"
        in client.get(link_in(mail), follow=True).content.decode()
    )


def test_a_reset_link_is_no_invitation_and_an_invitation_no_reset_link(client, alice):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    reset = default_token_generator.make_token(alice)
    page = client.get(f"/accounts/welcome/{uid}/{reset}/", follow=True)
    assert "already been used or has expired" in page.content.decode()
    welcome = invitations.invitation_tokens.make_token(alice)
    page = client.get(f"/accounts/reset/{uid}/{welcome}/", follow=True)
    assert "already been used or has expired" in page.content.decode()


def test_refusals_are_by_field(rita, library_one, alice):
    with pytest.raises(ValidationError) as refused:
        invitations.invite_new(
            rita, library_one, first_name="", last_name="X" * 200, email=alice.email
        )
    fields = refused.value.message_dict
    assert set(fields) == {"first_name", "last_name", "email"}
    assert fields["email"] == ["An account has this e-mail address already."]
    with pytest.raises(ValidationError, match="Enter an e-mail address"):
        invitations.invite_new(rita, library_one, first_name="A", last_name="B", email="not-mail")


def test_a_lead_manages_their_own_library_and_nobody_else(lead, alice, bob, rita, library_two):
    assert invitations.can_manage(lead, alice)  # a colleague
    assert not invitations.can_manage(lead, bob)  # another library's
    assert not invitations.can_manage(lead, rita)  # the team
    assert not invitations.can_manage(lead, lead)  # not themselves
    assert not invitations.can_manage(alice, lead)  # staff who are not leads
    assert invitations.can_manage(rita, alice) and not invitations.can_manage(rita, rita)
    with pytest.raises(PermissionDenied):
        invitations.invite_new(lead, library_two, first_name="A", last_name="B", email="a@b.org")
    with pytest.raises(PermissionDenied):
        invitations.deactivate(lead, bob)


def test_a_deactivated_account_cannot_sign_in_nor_be_invited(client, lead, alice):
    from tests.conftest import PASSWORD

    invitations.deactivate(lead, alice)
    alice.refresh_from_db()
    assert not alice.is_active
    signed_in = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert "_auth_user_id" not in client.session and signed_in.status_code != 302
    alice.set_unusable_password()
    alice.save()
    with pytest.raises(ValidationError, match="deactivated"):
        invitations.send_invitation(lead, alice)


def test_an_account_with_a_password_is_not_invited_again(rita, alice):
    with pytest.raises(ValidationError, match="set their password already"):
        invitations.send_invitation(rita, alice)


def test_the_staff_page_for_a_lead_the_team_and_others(client, lead, alice, bob, rita, mailoutbox):
    page = f"/libraries/{lead.library_id}/staff/"
    client.force_login(lead)
    text = client.get(page).content.decode()
    assert "Invite a colleague" in text and "alice" in text and "bob" not in text
    answer = client.post(
        f"{page}invite/",
        {"first_name": "Omar", "last_name": "Other", "email": "omar@abbot.example.org"},
    )
    assert answer.status_code == 302 and mailoutbox[-1].to == ["omar@abbot.example.org"]
    refused = client.post(f"{page}invite/", {"first_name": "", "last_name": "", "email": "x"})
    assert refused.status_code == 400 and "Enter their first name." in refused.content.decode()
    omar = User.objects.get(username="omar")
    assert client.post(f"{page}{omar.pk}/invite-again/").status_code == 302
    assert len(mailoutbox) == 2
    asked = client.post(f"{page}{alice.pk}/deactivate/")
    assert (
        asked.status_code == 200 and "will no longer be able to sign in" in asked.content.decode()
    )
    assert User.objects.get(pk=alice.pk).is_active  # asked first
    assert client.post(f"{page}{alice.pk}/deactivate/", {"confirmed": "yes"}).status_code == 302
    assert not User.objects.get(pk=alice.pk).is_active

    client.force_login(bob)  # another library's staff: nothing of ours
    assert client.get(page).status_code == 404
    assert client.post(f"{page}{omar.pk}/deactivate/").status_code == 404
    client.force_login(rita)
    assert "Invite a colleague" in client.get(page).content.decode()


def test_a_library_member_who_is_not_lead_sees_the_list_but_manages_nobody(client, alice, lead):
    page = f"/libraries/{alice.library_id}/staff/"
    client.force_login(alice)
    text = client.get(page).content.decode()
    assert "lena" in text and "Invite a colleague" not in text and "Deactivate" not in text
    assert (
        client.post(
            f"{page}invite/", {"first_name": "A", "last_name": "B", "email": "a@b.org"}
        ).status_code
        == 403
    )
    assert client.post(f"{page}{lead.pk}/deactivate/").status_code == 403


def test_the_admin_sends_invitations_in_bulk(client, admin_user, library_one, mailoutbox):
    quiet = User.objects.create(username="quiet", email="quiet@abbot.example.org",
                                role="library_staff", library=library_one)  # fmt: skip
    quiet.set_unusable_password()
    quiet.save()
    client.force_login(admin_user)
    client.post(
        "/admin/members/user/",
        {"action": "send_invitations", "_selected_action": [quiet.pk]},
    )
    assert [mail.to for mail in mailoutbox] == [["quiet@abbot.example.org"]]


def test_an_invitation_dies_with_a_deactivation_and_the_service_is_nobodys(
    client, rita, library_one, mailoutbox
):
    from members.services import service_account

    member = invitations.invite_new(
        rita, library_one, first_name="Ivy", last_name="In", email="ivy@abbot.example.org"
    )
    link = link_in(mailoutbox[0])
    invitations.deactivate(rita, member)
    User.objects.filter(pk=member.pk).update(is_active=True)  # switched back on by mistake
    assert "already been used or has expired" in client.get(link, follow=True).content.decode()
    assert not invitations.can_manage(rita, service_account())


def test_a_lead_does_not_manage_another_lead(lead, library_one):
    other = User.objects.create_user(
        "otto",
        "otto@abbot.example.org",
        "x",
        role="library_staff",
        library=library_one,
        is_library_lead=True,
    )
    assert not invitations.can_manage(lead, other)


def test_a_first_password_link_only_for_an_account_never_used(client, alice, mailoutbox):
    from django.utils import timezone

    alice.set_unusable_password()  # an admin turned her password off after she signed in
    alice.last_login = timezone.now()
    alice.save()
    client.post("/accounts/password-reset/", {"email": alice.email})
    assert not mailoutbox


def test_the_staff_page_reads_a_fixed_number_of_queries(client, lead, library_one):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(lead)
    page = f"/libraries/{library_one.pk}/staff/"

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(page).status_code == 200
        return len(captured)

    few = queries()
    for n in range(5):
        User.objects.create(
            username=f"s{n}", role="library_staff", library=library_one, invited_by=lead
        )
    assert queries() == few
