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

    /// <summary>Opens the select labelled <paramref name="label"/> and picks <paramref name="options"/> (several for a multiple select).</summary>
    public static async Task ChooseAsync(this IPage page, string label, params string[] options)
    {
        await page.GetByLabel(label, new() { Exact = true }).ClickAsync();
        foreach (var option in options)
            await page.Locator(".mud-popover-open .mud-list-item").Filter(new() { HasText = option }).First.ClickAsync();
        if (options.Length > 1 || await page.Locator(".mud-popover-open .mud-list-item").CountAsync() > 0) await page.Keyboard.PressAsync("Escape");
    }

    /// <summary>Signs in the open e-signature dialog with the account's password.</summary>
    public static async Task SignAsync(this IPage page)
    {
        var dialog = page.Locator(".mud-dialog");
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
