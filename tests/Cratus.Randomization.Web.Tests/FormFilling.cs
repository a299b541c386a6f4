using Microsoft.Playwright;

namespace Cratus.Randomization.Web.Tests;

/// <summary>Filling MudBlazor forms as a person does: by the field's label, choosing from the opened list.</summary>
public static class FormFilling
{
    /// <summary>Types into the text field labelled <paramref name="label"/> (inside <paramref name="scope"/>, e.g. a dialog).</summary>
    public static async Task FillFieldAsync(this ILocator scope, string label, string value)
    {
        var field = scope.GetByLabel(label, new() { Exact = true });
        await field.FillAsync(value);
        await field.BlurAsync();
    }

    public static Task FillFieldAsync(this IPage page, string label, string value) => page.Locator("body").FillFieldAsync(label, value);

    /// <summary>
    /// Opens the select labelled <paramref name="label"/> and picks <paramref name="options"/> (several for a multiple
    /// select), then waits for its list to close, so that the next click lands on the page, not on the closing list.
    /// </summary>
    public static async Task ChooseAsync(this IPage page, string label, params string[] options)
    {
        var field = page.GetByLabel(label, new() { Exact = true });
        await field.ClickAsync();
        var openList = page.Locator(".mud-popover-open .mud-list-item");
        foreach (var option in options)
            await openList.Filter(new() { HasText = option }).First.ClickAsync();
        // A multiple select stays open: Escape closes it, unless the focus has left it (it sat on the chosen item and
        // the key went nowhere, seen in CI); then a click outside the list closes it, as it would for a person.
        if (await openList.CountAsync() > 0) await page.Keyboard.PressAsync("Escape");
        if (await openList.CountAsync() > 0)
        {
            try
            {
                await openList.First.WaitForAsync(new() { State = WaitForSelectorState.Hidden, Timeout = 3_000 });
            }
            catch (TimeoutException)
            {
                await page.Mouse.ClickAsync(2, 2);
            }
        }
        await openList.First.WaitForAsync(new() { State = WaitForSelectorState.Hidden });
    }

    /// <summary>
    /// Signs in the e-signature dialog the last click opens, with the account's password. When the page refuses
    /// instead of asking for a signature, fails with the refusal's text.
    /// </summary>
    public static async Task SignAsync(this IPage page)
    {
        var dialog = page.Locator(".mud-dialog");
        var refusal = page.GetByTestId("refusal");
        try
        {
            await dialog.WaitForAsync();
        }
        catch (TimeoutException)
        {
            if (await refusal.CountAsync() == 0) throw;
            throw new InvalidOperationException("The page refused instead of asking for a signature: " + await refusal.First.InnerTextAsync());
        }
        await dialog.GetByLabel("Your password", new() { Exact = true }).FillAsync(Signing.Password);
        await dialog.GetByTestId("sign").ClickAsync();
        await dialog.WaitForAsync(new() { State = WaitForSelectorState.Detached });
    }

    /// <summary>Gives the reason in the open change dialog and confirms.</summary>
    public static async Task ConfirmChangeAsync(this IPage page, string reason)
    {
        var dialog = page.Locator(".mud-dialog");
        await dialog.FillFieldAsync("Reason for the change", reason);
        await dialog.GetByTestId("change-confirm").ClickAsync();
        await dialog.WaitForAsync(new() { State = WaitForSelectorState.Detached });
    }
}
