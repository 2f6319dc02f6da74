"""Search in a real browser (headless Chromium): what a person sees when they search, read the facet
counts, click a facet, and page with the keyboard. Screenshots go to test-artefacts/screenshots/."""

from __future__ import annotations

import re

import pytest

from tests.browser import browser, screenshot  # noqa: F401
from tests.test_search import index, site, store  # noqa: F401  (the module's store, served)

pytestmark = pytest.mark.slow


def visible_text(driver, css: str) -> list[str]:
    from selenium.webdriver.common.by import By
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()]


def test_search_then_narrow_with_a_facet(browser, site):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(site + "search")
    box = browser.find_element(By.ID, "q")
    box.send_keys("river", Keys.ENTER)  # the plain form: no JavaScript involved
    WebDriverWait(browser, 20).until(seen.text_to_be_present_in_element((By.ID, "result-count"), "for “river”"))
    total = int(re.match(r"([\d,]+) result", browser.find_element(By.ID, "result-count").text).group(1).replace(",", ""))
    titles = visible_text(browser, "ol.hits h3 a")
    assert titles and any("River" in t for t in titles), titles
    screenshot(browser, "search-river")

    facet = browser.find_element(By.ID, "facet-material")
    counts = {}
    for link in facet.find_elements(By.CSS_SELECTOR, "a"):
        label = link.find_element(By.CSS_SELECTOR, ".label").text
        counts[label] = int(link.find_element(By.CSS_SELECTOR, ".count").text)
    assert "paper" in counts and 0 < counts["paper"] <= total

    # a keyboard user reaches the facet link with Tab and follows it with Enter
    target = next(link for link in facet.find_elements(By.CSS_SELECTOR, "a")
                  if link.find_element(By.CSS_SELECTOR, ".label").text == "watercolour")
    expected = int(target.find_element(By.CSS_SELECTOR, ".count").text)
    body = browser.find_element(By.TAG_NAME, "body")
    body.click()
    for _ in range(400):
        if browser.switch_to.active_element == target:
            break
        browser.switch_to.active_element.send_keys(Keys.TAB)
    assert browser.switch_to.active_element == target, "the facet link cannot be reached with Tab"
    target.send_keys(Keys.ENTER)
    WebDriverWait(browser, 20).until(seen.presence_of_element_located((By.CSS_SELECTOR, "ul.selected")))
    narrowed = browser.find_element(By.ID, "result-count").text
    assert narrowed.startswith(f"{expected:,} result"), narrowed
    assert "Material: watercolour" in browser.find_element(By.CSS_SELECTOR, "ul.selected").text
    assert len(visible_text(browser, "ol.hits h3 a")) == min(expected, 20)
    chosen = browser.find_element(By.CSS_SELECTOR, "#facet-material li.chosen")
    assert "watercolour" in chosen.text
    screenshot(browser, "search-river-watercolour")


def test_phone_width_shows_results_before_facets(browser, site):  # noqa: F811
    from selenium.webdriver.common.by import By
    browser.set_window_size(390, 844)
    try:
        browser.get(site + "search?q=blake")
        results = browser.find_element(By.CSS_SELECTOR, "section.results").rect
        facets = browser.find_element(By.CSS_SELECTOR, "nav.facets").rect
        assert facets["y"] > results["y"] and results["width"] <= 390
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= 390, "the page scrolls sideways on a phone"
        screenshot(browser, "search-phone")
    finally:
        browser.set_window_size(1280, 900)
