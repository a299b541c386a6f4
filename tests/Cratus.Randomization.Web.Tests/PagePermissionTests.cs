using Cratus.Randomization.Server.Security;
using Cratus.Randomization.Server.Web;

namespace Cratus.Randomization.Web.Tests;

/// <summary>Every page with every person role: the pages its use case permits open; any other answers 403 and renders
/// nothing of the page; the menu offers exactly the pages that open.</summary>
[Collection(UsesBrowser.Name)]
[Trait("Category", "Slow")]
public sealed class PagePermissionTests(BrowserFixture browser)
{
    [Fact]
    public async Task Every_page_opens_to_exactly_the_roles_its_use_case_permits()
    {
        await using var trial = new WebTrial();
        foreach (var role in Enum.GetValues<TrialRole>().Where(TrialRoles.IsPersonRole))
        {
            var page = await trial.SignInAsync(browser.Browser, role);
            var menu = await page.Locator("nav a, .mud-nav-link").AllInnerTextsAsync();
            foreach (var webPage in WebPages.All)
            {
                var permitted = webPage.OpenTo(role);
                var where = $"{TrialRoles.Title(role)} at {webPage.Address}";
                Assert.True(permitted == menu.Any(m => m.Trim() == webPage.Title), $"{where}: the menu disagrees with the permission");
                var status = await trial.OpenAsync(page, webPage.Address);
                Assert.True((permitted ? 200 : 403) == status, $"{where}: status {status}");
                if (permitted)
                {
                    Assert.DoesNotContain("Not permitted", await page.Locator("h1").First.InnerTextAsync());
                }
                else
                {
                    Assert.Contains("Not permitted", await page.Locator("body").InnerTextAsync());
                    Assert.Equal(0, await page.Locator("table, form:not([action='/web/signout']), input").CountAsync());
                }
            }
            await page.Context.CloseAsync();
        }
    }
}
