from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.authtoken.models import Token

from labeling import services
from labeling.models import Membership, Project


class Command(BaseCommand):
    help = "Create or update a user, add them to projects, and print their API token (last line)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", choices=["admin", "annotator"], required=True)
        parser.add_argument("--password", help="Set this password (checked by Django's validators).")
        parser.add_argument(
            "--project",
            action="append",
            default=[],
            metavar="SLUG",
            help="Add the user to this project (repeatable).",
        )

    def handle(
        self, *args, username: str, role: str, password: str | None, project: list[str], **options
    ) -> None:
        projects = list(Project.objects.filter(slug__in=project))
        missing = set(project) - {p.slug for p in projects}
        if missing:
            raise CommandError(f"No such project: {', '.join(sorted(missing))}.")
        User = get_user_model()
        with transaction.atomic():
            user, created = User.objects.get_or_create(username=username)
            if password is not None:
                try:
                    password_validation.validate_password(password, user)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from None
                user.set_password(password)
            elif created:
                user.set_unusable_password()  # API token only, until a password is set
            user.is_staff = user.is_superuser = role == "admin"
            user.save()
            member_role = Membership.Role.ADMIN if role == "admin" else Membership.Role.ANNOTATOR
            for found in projects:
                services.add_member(found, user, member_role)
            token, _ = Token.objects.get_or_create(user=user)
        verb = "Created" if created else "Updated"
        self.stderr.write(f"{verb} {role} {username}; member of: {', '.join(project) or 'no projects'}.")
        self.stdout.write(token.key)
