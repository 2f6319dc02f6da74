"""What a person sees in a real browser (headless Chromium): the home page, an object page, a person
page. Screenshots are kept under test-artefacts/screenshots/."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import browser, screenshot  # noqa: F401

pytestmark = pytest.mark.slow


def test_home_page_in_a_browser(site, browser):
    browser.get(site.root + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "The collection"
    counts = browser.find_element(By.CSS_SELECTOR, "ul.counts").text
    assert "objects" in counts and "people" in counts
    browser.find_element(By.LINK_TEXT, "Browse by maker").click()
    assert browser.find_element(By.TAG_NAME, "h1").text == "Browse by maker"
    browser.back()
    screenshot(browser, "home")


def test_object_page_in_a_browser(site, browser):
    browser.get(site.root + "/id/object/tate-A00001")  # the identifier: the browser follows the 303
    assert browser.current_url.endswith("/page/object/tate-A00001")
    title = browser.find_element(By.TAG_NAME, "h1").text
    assert title.startswith("A Figure Bowing before a Seated Old Man")
    assert browser.title.startswith(title[:20])
    made = browser.find_element(By.CSS_SELECTOR, "p.event-made")
    assert made.text == "Made by Robert Blake."
    maker = made.find_element(By.TAG_NAME, "a")
    assert maker.text == "Robert Blake"
    badge = browser.find_element(By.CSS_SELECTOR, "dd.machine-made .badge")
    assert badge.is_displayed() and "Machine suggestion" in badge.text and "%" in badge.text
    why = browser.find_element(By.CSS_SELECTOR, "dd.machine-made details")
    explanation = why.find_element(By.TAG_NAME, "p")
    assert not explanation.is_displayed(), "the explanation waits to be asked for"
    why.find_element(By.TAG_NAME, "summary").click()
    assert explanation.is_displayed() and explanation.text
    screenshot(browser, "object")
    maker.click()
    assert browser.current_url.endswith("/page/person/tate-38")


def test_person_page_in_a_browser_and_by_keyboard(site, browser):
    browser.get(site.root + "/page/person/tate-38")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Robert Blake"
    assert browser.find_element(By.CSS_SELECTOR, "p.event-born").text == "Born 1762 in London, United Kingdom."
    works = browser.find_elements(By.CSS_SELECTOR, "section.inverse li a")
    assert any(w.text.startswith("A Figure Bowing") for w in works)
    # the first Tab reaches the skip link, which becomes visible and moves focus to the content
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    skip = browser.switch_to.active_element
    assert skip.text == "Skip to content" and skip.is_displayed()
    skip.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    screenshot(browser, "person")


def test_object_page_on_a_phone(site, browser):
    browser.set_window_size(390, 844)
    try:
        browser.get(site.root + "/page/object/tate-A00001")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        screenshot(browser, "object-phone")
    finally:
        browser.set_window_size(1280, 900)
