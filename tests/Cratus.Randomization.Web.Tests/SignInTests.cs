using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class SignInTests(BrowserFixture browser)
{
    [Fact]
    public async Task A_coordinator_signs_in_through_the_sign_in_server_and_sees_role_site_phase_and_environment()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"]);

        var who = await page.GetByTestId("who").InnerTextAsync();
        Assert.Contains("coord-um", who);
        Assert.Contains("Site coordinator", who);
        Assert.Contains("UM", who);
        Assert.Equal("Testing", (await page.GetByTestId("environment").InnerTextAsync()).Trim());
        Assert.Contains("Phase I", await page.GetByTestId("phase").InnerTextAsync());
        Assert.True(await page.GetByRole(AriaRole.Link, new() { Name = "Participants" }).IsVisibleAsync());
        Assert.False(await page.GetByRole(AriaRole.Link, new() { Name = "Users" }).IsVisibleAsync());
    }

    [Fact]
    public async Task A_page_the_role_may_not_open_answers_403_and_renders_nothing()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.SiteCoordinator, "coord-um", ["UM"]);

        var response = await page.GotoAsync(trial.Address + "/admin/users");
        Assert.Equal(403, response!.Status);
        var body = await page.Locator("body").InnerTextAsync();
        Assert.Contains("Not permitted", body);
        Assert.DoesNotContain("administrator", body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await page.Locator("table").CountAsync());
    }

    [Fact]
    public async Task Without_a_session_a_page_sends_the_browser_to_the_sign_in_server()
    {
        await using var trial = new WebTrial();
        await using var context = await browser.Browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(trial.Address + "/participants");
        Assert.Contains("/account/signin", page.Url);
    }
}
