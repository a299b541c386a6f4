using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Cratus.Testing;

/// <summary>What the token endpoint (or another OpenID Connect endpoint) answered: its status and JSON body.</summary>
public sealed record OpenIdAnswer(HttpStatusCode Status, JsonElement Json)
{
    public string? Error => Json.TryGetProperty("error", out var e) ? e.GetString() : null;
    public string? AccessToken => Json.TryGetProperty("access_token", out var t) ? t.GetString() : null;
    public string? RefreshToken => Json.TryGetProperty("refresh_token", out var t) ? t.GetString() : null;
    public string? Get(string name) => Json.TryGetProperty(name, out var v) ? v.ToString() : null;
}

/// <summary>
/// A client of the built-in OpenID Connect server over real HTTP, keeping its cookies as a browser does: token
/// requests, and the sign-in and password pages filled in as a person would (antiforgery token included).
/// </summary>
public sealed partial class OpenIdTestClient(HttpClient http) : IDisposable
{
    public const string CliClient = "cratus-cli";
    public HttpClient Http { get; } = http;

    public async Task<OpenIdAnswer> PostAsync(string path, Dictionary<string, string> form)
    {
        using var reply = await Http.PostAsync(path, new FormUrlEncodedContent(form));
        var body = await reply.Content.ReadAsStringAsync();
        return new OpenIdAnswer(reply.StatusCode, body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone());
    }

    public Task<OpenIdAnswer> TokenAsync(Dictionary<string, string> form) => PostAsync("connect/token", form);

    public Task<OpenIdAnswer> PasswordGrantAsync(string userName, string password, string? totp = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["client_id"] = CliClient, ["username"] = userName, ["password"] = password,
            ["scope"] = "openid offline_access cratus",
        };
        if (totp is not null) form["totp_code"] = totp;
        return TokenAsync(form);
    }

    /// <summary>The access token of a password grant that must succeed.</summary>
    public async Task<string> PasswordAsync(string userName, string password, string? totp = null)
    {
        var answer = await PasswordGrantAsync(userName, password, totp);
        Assert.True(answer.AccessToken is not null, $"the password grant for {userName} failed: {answer.Json}");
        return answer.AccessToken!;
    }

    /// <summary>Fills in and posts a page's form (GET, then POST with its antiforgery token); returns the reply.</summary>
    public async Task<HttpResponseMessage> SubmitAsync(string page, Dictionary<string, string> fields)
    {
        var form = await Http.GetStringAsync(page);
        var token = AntiforgeryField().Match(form);
        Assert.True(token.Success, $"{page} has no antiforgery field");
        fields["__RequestVerificationToken"] = WebUtility.HtmlDecode(token.Groups[1].Value);
        return await Http.PostAsync(page, new FormUrlEncodedContent(fields));
    }

    /// <summary>Signs in at the sign-in page; the reply redirects on success and shows the form again otherwise.</summary>
    public Task<HttpResponseMessage> SignInPageAsync(string userName, string password, string? code = null, string? returnUrl = null) =>
        SubmitAsync("account/signin" + (returnUrl is null ? "" : "?ReturnUrl=" + Uri.EscapeDataString(returnUrl)),
            new() { ["UserName"] = userName, ["Password"] = password, ["Code"] = code ?? "" });

    /// <summary>Chooses a new password at the password page (at first sign-in: the one-time password as the current one).</summary>
    public Task<HttpResponseMessage> ChangePasswordPageAsync(string userName, string current, string next) =>
        SubmitAsync("account/changepassword?firstSignIn=true",
            new() { ["UserName"] = userName, ["CurrentPassword"] = current, ["NewPassword"] = next, ["ConfirmPassword"] = next, ["FirstSignIn"] = "true" });

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryField();

    public void Dispose() => Http.Dispose();
}
