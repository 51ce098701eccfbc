from django.test import Client


def signed_in(user) -> Client:
    """A browser session for `user`, as the admin's login page would leave it (the bench screens are not the API)."""
    client = Client()
    client.force_login(user)
    return client
