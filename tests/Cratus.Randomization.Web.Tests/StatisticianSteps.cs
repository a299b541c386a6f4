using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

/// <summary>Steps the schedule, unblinding and audit page tests share: signing in the e-signature dialog, choosing from a MudSelect.</summary>
internal static class StatisticianSteps
{
    /// <summary>Signs the open e-signature dialog with <see cref="Signing.Password"/> and waits for it to close.</summary>
    public static Task SignAsync(IPage page) => FormFilling.SignAsync(page);

    /// <summary>Opens the MudSelect marked <paramref name="testId"/> and picks the option showing <paramref name="option"/>.</summary>
    public static async Task ChooseAsync(IPage page, string testId, string option)
    {
        await page.GetByTestId(testId).ClickAsync();
        var item = page.Locator(".mud-popover-open .mud-list-item").Filter(new() { HasText = option }).First;
        await item.ClickAsync();
        await item.WaitForAsync(new() { State = WaitForSelectorState.Hidden });
    }

    /// <summary>Fills the MudTextField marked <paramref name="testId"/> (the attribute may sit on the input or around it).</summary>
    public static async Task FillAsync(IPage page, string testId, string value)
    {
        var input = page.Locator($"input[data-testid={testId}], [data-testid={testId}] input, textarea[data-testid={testId}]").First;
        await input.FillAsync(value);
        await input.BlurAsync();
    }

    /// <summary>The page's whole text and markup, for blinding checks.</summary>
    public static async Task<string> EverythingAsync(IPage page) => await page.ContentAsync() + await page.Locator("body").InnerTextAsync();
}
