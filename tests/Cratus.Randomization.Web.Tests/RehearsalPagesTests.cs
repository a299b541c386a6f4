using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;

namespace Cratus.Randomization.Web.Tests;

/// <summary>Rehearsal in the browser: the UAT banner on every page, the administrator moving the trial clock (the
/// session surviving the jump), and nothing of it in production.</summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class RehearsalPagesTests(BrowserFixture browser)
{
    [Fact]
    public async Task In_UAT_every_page_shows_the_banner_and_the_administrator_moves_the_trial_clock_forward()
    {
        await using var trial = new WebTrial(new Dictionary<string, string> { ["Trial:Mode"] = "Uat", ["Rehearsal:ClockControl"] = "true" });
        var coordinator = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-uat", ["UM"]);
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Administrator, "admin-uat");

        var coordinatorBanner = await coordinator.GetByTestId("trial-mode").InnerTextAsync();
        var coordinatorLinks = await coordinator.GetByTestId("trial-clock-link").CountAsync();
        var banner = page.GetByTestId("trial-mode");
        var mode = await banner.GetAttributeAsync("data-mode");
        var bannerText = await banner.InnerTextAsync();
        await page.GetByTestId("trial-clock-link").ClickAsync();
        await page.GetByTestId("advance-clock").WaitForAsync();
        await page.FillFieldAsync("Days", "30");
        await page.FillFieldAsync("Reason", "UAT: pass cohort 1's 30-day window");
        await page.GetByTestId("advance-button").ClickAsync();
        var done = await page.GetByTestId("advance-done").InnerTextAsync();
        var offset = await page.GetByTestId("clock-offset").InnerTextAsync();
        var clock = (await trial.Server.As(TrialRole.Monitor).Rehearsal.GetTrialClockAsync(new GetTrialClockRequest())).Clock;
        // Still signed in after 30 days of trial time: sign-ins run on the real clock.
        Assert.Equal(200, await trial.OpenAsync(page, "/admin/sites"));
        var movedBanner = await page.GetByTestId("trial-time").InnerTextAsync();
        var who = await page.GetByTestId("who").InnerTextAsync();

        Assert.Contains("UAT: a rehearsal, not the real trial", coordinatorBanner, StringComparison.Ordinal);
        Assert.Equal(0, coordinatorLinks);
        Assert.Equal("uat", mode);
        Assert.Contains("UAT: a rehearsal, not the real trial", bannerText, StringComparison.Ordinal);
        Assert.StartsWith("Moved from", done, StringComparison.Ordinal);
        Assert.StartsWith("30 days 0 h", offset, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromDays(30), clock.Offset.ToTimeSpan());
        Assert.Contains("(30 days 0 h ahead of the real time)", movedBanner, StringComparison.Ordinal);
        Assert.Contains(DateTimeOffset.UtcNow.AddDays(30).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), movedBanner, StringComparison.Ordinal);
        Assert.Contains("admin-uat", who, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_production_there_is_no_banner_and_the_trial_clock_page_says_it_never_moves()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Administrator, "admin-prod");

        var banners = await page.GetByTestId("trial-mode").CountAsync();
        await trial.OpenAsync(page, "/admin/trial-clock");
        var fixedText = await page.GetByTestId("clock-fixed").InnerTextAsync();
        var forms = await page.GetByTestId("advance-clock").CountAsync();

        Assert.Equal(0, banners);
        Assert.Contains("production trial", fixedText, StringComparison.Ordinal);
        Assert.Equal(0, forms);
    }
}
