using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Web;

namespace Cratus.Randomization.Web.Tests;

/// <summary>Every page with every person role: the pages its use case permits open; any other answers 403 and renders
/// nothing of the page; the menu offers exactly the pages that open.</summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class PagePermissionTests(BrowserFixture browser)
{
    public static TheoryData<TrialRole> PersonRoles() => new(Enum.GetValues<TrialRole>().Where(TrialRoles.IsPersonRole));

    [Theory]
    [MemberData(nameof(PersonRoles))]
    public async Task Every_page_opens_to_exactly_the_roles_its_use_case_permits(TrialRole role)
    {
        await using var trial = new WebTrial();
        var page = await trial.SignInAsync(browser.Browser, role);

        var menu = await page.Locator("nav a, .mud-nav-link").AllInnerTextsAsync();
        foreach (var webPage in WebPages.All)
        {
            var permitted = webPage.OpenTo(role);
            Assert.Equal(permitted, menu.Any(m => m.Trim() == webPage.Title));
            var status = await trial.OpenAsync(page, webPage.Address);
            if (permitted)
            {
                Assert.Equal(200, status);
                Assert.DoesNotContain("Not permitted", await page.Locator("h1").First.InnerTextAsync());
            }
            else
            {
                Assert.Equal(403, status);
                var body = await page.Locator("body").InnerTextAsync();
                Assert.Contains("Not permitted", body);
                Assert.Equal(0, await page.Locator("table, form:not([action='/web/signout']), input").CountAsync());
            }
        }
    }
}
