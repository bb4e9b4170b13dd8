from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals and follow-up"

    def ready(self):
        from dispatch.events import events_recorded
        from referrals.services import referrals_follow_their_incidents

        # An urgent referral's status follows its incident, which dispatch changes.
        events_recorded.connect(referrals_follow_their_incidents, dispatch_uid="referrals_follow_incidents")
