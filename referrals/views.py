from django.shortcuts import render

from dispatch.roles import Action, role_required


@role_required(Action.REFERRAL_FILE)
def officer_home(request):
    return render(request, "referrals/officer_home.html")


@role_required(Action.FOLLOW_UP_WORK)
def case_manager_home(request):
    return render(request, "referrals/case_manager_home.html")
