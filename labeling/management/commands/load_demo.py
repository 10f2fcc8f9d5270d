from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from labeling import demo, services
from labeling.models import Membership, Project

SLUG = "tweet-sentiment"
LOGINS = {"admin": "sift-admin-demo", "annotator": "sift-annotator-demo"}
GUIDELINES = """Label the feeling the author expresses, not the topic.
positive: happy, grateful, excited, approving.
negative: angry, sad, disappointed, mocking.
Sarcasm counts as what the author means. Skip (S) a tweet you cannot judge."""


class Command(BaseCommand):
    help = "Create the demo users and a project of real, human-rated tweets (idempotent)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--labeled", type=int, default=120, help="Tweets imported with their label.")

    def handle(self, *args, labeled: int, **options) -> None:
        if labeled < 0:
            raise CommandError("--labeled cannot be negative.")
        try:
            # Checked first: `make run` runs this before the web server, so a bad port stops it here.
            address = demo.serve_address()
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        admin = self._user("admin", staff=True)
        annotator = self._user("annotator", staff=False)
        project = Project.objects.filter(slug=SLUG).first()
        if project is None:
            archive = demo.fetch_archive(settings.DATA_DIR / "demo")
            data = demo.demo_jsonl(demo.read_tweets(archive), labeled)
            # One transaction: a project left without its items would be taken as loaded
            # by the next run, which only checks that the project exists.
            with transaction.atomic():
                project = services.create_project(
                    admin,
                    "Tweet sentiment",
                    ["positive", "negative"],
                    slug=SLUG,
                    guidelines=GUIDELINES,
                    seed=2014,
                )
                batch = services.import_items(project, admin, data, "vader_tweets.jsonl")
            self.stdout.write(f"Demo project: {batch.rows} tweets ({batch.labeled} already labeled).")
        services.add_member(project, annotator, Membership.Role.ANNOTATOR)
        where = (
            f"Sift is at {address} — log in as:"
            if address
            else "Log in (at the address `make run` printed) as:"
        )
        self.stdout.write(self.style.SUCCESS(f"\n{where}"))
        for name, password in LOGINS.items():
            self.stdout.write(f"  {name:<10} password: {password}")

    def _user(self, name: str, staff: bool):
        user, _ = get_user_model().objects.get_or_create(username=name)
        user.is_staff = user.is_superuser = staff
        user.set_password(LOGINS[name])
        user.save()
        return user
