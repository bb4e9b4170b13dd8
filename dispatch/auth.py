from rest_framework import authentication, exceptions

from dispatch.models import ApiClient


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <key>` for API clients; keys are stored hashed."""

    keyword = "Token"

    def authenticate_credentials(self, key):
        client = ApiClient.objects.select_related("user").filter(key_hash=ApiClient.hash_key(key)).first()
        if client is None or not client.is_active or not client.user.is_active:
            raise exceptions.AuthenticationFailed("Invalid token.")
        # role_of() reads the role from here without another query.
        client.user.api_client = client
        return (client.user, client)
