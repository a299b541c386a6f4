using Cratus.Randomization.Protos.V1;
using Cratus.Randomization.Server.Security;
using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class AdministrationPagesTests(BrowserFixture browser)
{
    private const string NewPassword = "Chosen-by-the-person-2026";

    [Fact]
    public async Task The_administrator_creates_an_account_shown_once_who_then_signs_in_and_disables_it()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Administrator, "admin-1");

        await page.GotoAsync(trial.Address + "/admin/users");
        await page.GetByTestId("users").WaitForAsync();
        await page.FillFieldAsync("User name", "coord-new");
        await page.FillFieldAsync("Full name", "Nora Newcomer");
        await page.ChooseAsync("Role", "Site coordinator");
        await page.ChooseAsync("Sites (site roles only)", "UM");
        await page.FillFieldAsync("Reason", "new coordinator at Miami");
        await page.GetByTestId("create").ClickAsync();
        var initialPassword = (await page.GetByTestId("secret-value").InnerTextAsync()).Trim();
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("admin-users") });
        var created = (await trial.Server.As(TrialRole.Administrator).Administration.ListUsersAsync(new ListUsersRequest())).Users.Single(u => u.UserName == "coord-new");
        await page.ReloadAsync();
        await page.GetByTestId("users").GetByText("coord-new").WaitForAsync();
        var shownAfterReload = await page.GetByTestId("one-time-secret").CountAsync();

        // The person's first sign-in, on the sign-in pages: the one-time password, then a password of their own.
        await using var personContext = await browser.Browser.NewContextAsync();
        var person = await personContext.NewPageAsync();
        await person.GotoAsync(trial.Address + "/");
        await person.FillAsync("#user", "coord-new");
        await person.FillAsync("#password", initialPassword);
        await person.ClickAsync("button[type=submit]");
        await person.WaitForURLAsync(url => url.Contains("ChangePassword", StringComparison.OrdinalIgnoreCase) || url.Contains("change", StringComparison.OrdinalIgnoreCase));
        await person.FillAsync("#current", initialPassword);
        await person.FillAsync("#new", NewPassword);
        await person.FillAsync("#confirm", NewPassword);
        await person.ClickAsync("button[type=submit]");
        await person.GetByTestId("who").WaitForAsync();
        var who = await person.GetByTestId("who").InnerTextAsync();

        var row = page.Locator("[data-testid=users] tbody tr").Filter(new() { HasText = "coord-new" });
        await row.GetByTestId("toggle-user").ClickAsync();
        await page.ConfirmChangeAsync("left the trial team");
        await row.GetByTestId("user-status").GetByText("disabled").WaitForAsync();
        var afterDisable = (await trial.Server.As(TrialRole.Administrator).Administration.ListUsersAsync(new ListUsersRequest())).Users.Single(u => u.UserName == "coord-new");
        using var oidc = trial.Server.OpenId();
        var refused = await oidc.PasswordGrantAsync("coord-new", NewPassword);

        Assert.Matches(@"^\S{12,}$", initialPassword);
        Assert.Equal("site_coordinator", created.Role);
        Assert.Equal(["UM"], created.Sites);
        Assert.True(created.Active);
        Assert.Equal(0, shownAfterReload);
        Assert.Contains("coord-new", who);
        Assert.False(afterDisable.Active);
        Assert.Null(refused.AccessToken);
    }

    [Fact]
    public async Task Resetting_a_password_gives_a_new_one_time_password_and_the_old_one_stops_working()
    {
        await using var trial = new WebTrial();
        trial.Server.EnsureAccount(TrialRole.Monitor, "monitor-1", []);
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Administrator, "admin-1");

        await page.GotoAsync(trial.Address + "/admin/users");
        var row = page.Locator("[data-testid=users] tbody tr").Filter(new() { HasText = "monitor-1" });
        await row.GetByTestId("reset-user").ClickAsync();
        await page.ConfirmChangeAsync("forgot the password");
        var oneTime = (await page.GetByTestId("secret-value").InnerTextAsync()).Trim();
        using var oidc = trial.Server.OpenId();
        var old = await oidc.PasswordGrantAsync("monitor-1", Signing.Password);
        var fresh = await oidc.PasswordGrantAsync("monitor-1", oneTime);
        var audit = (await trial.Server.As(TrialRole.Monitor).Audit.ListAuditEventsAsync(new ListAuditEventsRequest { Action = "user.password_reset" })).Events;

        Assert.Null(old.AccessToken);
        Assert.Null(fresh.AccessToken);
        Assert.Contains("one-time password", fresh.Json.ToString(), StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("one-time password", old.Json.ToString(), StringComparison.OrdinalIgnoreCase);
        var reset = Assert.Single(audit);
        Assert.Equal(("admin-1", "monitor-1", "forgot the password"), (reset.User, reset.Target, reset.Reason));
    }

    [Fact]
    public async Task A_registered_site_systems_secret_is_shown_once_and_gets_a_client_credentials_token()
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, TrialRole.Administrator, "admin-1");

        await page.GotoAsync(trial.Address + "/admin/site-systems");
        await page.GetByTestId("site-systems").WaitForAsync();
        await page.FillFieldAsync("Client id", "edc-um");
        await page.FillFieldAsync("Display name", "Miami EDC");
        await page.ChooseAsync("Sites", "UM");
        await page.FillFieldAsync("Reason", "EDC integration");
        await page.GetByTestId("register").ClickAsync();
        var secret = (await page.GetByTestId("secret-value").InnerTextAsync()).Trim();
        await page.ScreenshotAsync(new() { Animations = ScreenshotAnimations.Disabled, Path = Screenshots.PathOf("admin-site-systems") });
        await page.ReloadAsync();
        await page.GetByTestId("site-systems").GetByText("edc-um").WaitForAsync();
        var shownAfterReload = await page.GetByTestId("one-time-secret").CountAsync();
        var body = await page.Locator("body").InnerTextAsync();
        using var oidc = trial.Server.OpenId();
        var token = await oidc.TokenAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = "edc-um", ["client_secret"] = secret });

        Assert.False(string.IsNullOrEmpty(secret));
        Assert.Equal(0, shownAfterReload);
        Assert.DoesNotContain(secret, body, StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(token.AccessToken), token.Json.ToString());
    }
}
