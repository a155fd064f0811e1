from tests.factories import PASSWORD, make_user


def test_staff_signs_in_and_reaches_the_desk(app, session, live_server, page, screenshot):
    make_user(session, "counsel", email="counsel@desk.example")
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", "counsel@desk.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/desk/")
    assert "My queue" in page.inner_text("h1")
    screenshot("login-home")
