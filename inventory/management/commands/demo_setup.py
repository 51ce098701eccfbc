"""python manage.py demo_setup: demo users (one per role) and a demo lot, for `make run`. Safe to rerun."""

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from core.roles import ADMIN, RESELLER, TECHNICIAN
from inventory.models import Lot
from inventory.roles import roles_sync
from inventory.services import intake_import, intake_parse_csv

DEMO_LOT_FILE = Path(__file__).resolve().parents[2] / "data" / "demo_lot.csv"
DEMO_LOT = "DEMO-001"
DEMO_USERS = [("admin", ADMIN), ("tech", TECHNICIAN), ("seller", RESELLER)]


class Command(BaseCommand):
    help = "Create demo users for each role (new passwords printed each run) and take in a demo lot once."

    def handle(self, *args, **options):
        roles_sync()
        User = get_user_model()
        logins = []
        for username, role in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@example.invalid"})
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.is_staff = True
            user.is_superuser = role == ADMIN
            user.save()
            user.groups.set([Group.objects.get(name=role)])
            token, _ = Token.objects.get_or_create(user=user)
            logins.append((role, username, password, token.key))

        if not Lot.objects.filter(reference=DEMO_LOT).exists():
            _, units = intake_import(
                lot_reference=DEMO_LOT, rows=intake_parse_csv(DEMO_LOT_FILE.read_bytes()),
                lot_fields={"supplier": "Demo Mining Co. (closing rig farm)", "total_cost": "3150.00",
                            "currency": "USD", "demo": True},
                actor_label="demo", source="demo",
            )
            self.stdout.write(f"Took in demo lot {DEMO_LOT}: {len(units)} cards.")
        else:
            self.stdout.write(f"Demo lot {DEMO_LOT} already present.")

        self.stdout.write(self.style.SUCCESS("\nDemo logins (passwords are new on every run):"))
        for role, username, password, token in logins:
            self.stdout.write(f"  {role:<11} user {username:<7} password {password:<13} API token {token}")
