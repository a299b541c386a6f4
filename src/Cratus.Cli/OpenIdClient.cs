using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cratus.Cli;

/// <summary>The token endpoint's answer (RFC 6749 §5.1), or its error (§5.2).</summary>
public sealed record TokenReply(
    [property: JsonPropertyName("access_token")] string? AccessToken,
    [property: JsonPropertyName("expires_in")] int? ExpiresIn,
    [property: JsonPropertyName("refresh_token")] string? RefreshToken,
    [property: JsonPropertyName("error")] string? Error,
    [property: JsonPropertyName("error_description")] string? ErrorDescription);

/// <summary>The device authorization endpoint's answer (RFC 8628 §3.2).</summary>
public sealed record DeviceAuthorization(
    [property: JsonPropertyName("device_code")] string DeviceCode,
    [property: JsonPropertyName("user_code")] string UserCode,
    [property: JsonPropertyName("verification_uri")] string VerificationUri,
    [property: JsonPropertyName("verification_uri_complete")] string? VerificationUriComplete,
    [property: JsonPropertyName("expires_in")] int ExpiresIn,
    [property: JsonPropertyName("interval")] int? Interval);

/// <summary>
/// The few OpenID Connect calls the CLI makes to the service's built-in server (at the issuer address, the service's
/// web port): the device flow for people, client credentials for scripts, the password grant where a Development or
/// UAT deployment enables it, refresh, and revocation at sign-out.
/// </summary>
public sealed class OpenIdClient(string issuer) : IDisposable
{
    public const string ClientId = "cratus-cli";
    private const string Scopes = "openid offline_access cratus";

    private readonly HttpClient _http = new() { BaseAddress = new Uri(issuer.EndsWith('/') ? issuer : issuer + "/"), Timeout = TimeSpan.FromSeconds(30) };

    public string Issuer => _http.BaseAddress!.AbsoluteUri;

    public async Task<DeviceAuthorization> StartDeviceFlowAsync(CancellationToken ct)
    {
        using var reply = await PostAsync("connect/device", new() { ["client_id"] = ClientId, ["scope"] = Scopes }, ct);
        if (!reply.IsSuccessStatusCode) throw Refused(await reply.Content.ReadFromJsonAsync<TokenReply>(ct));
        return (await reply.Content.ReadFromJsonAsync<DeviceAuthorization>(ct))!;
    }

    /// <summary>Polls the token endpoint until the person allows or denies the device, or the code expires.</summary>
    public async Task<TokenReply> WaitForDeviceAsync(DeviceAuthorization device, CancellationToken ct)
    {
        var interval = TimeSpan.FromSeconds(Math.Max(1, device.Interval ?? 5));
        var until = DateTimeOffset.UtcNow.AddSeconds(device.ExpiresIn);
        while (DateTimeOffset.UtcNow < until)
        {
            await Task.Delay(interval, ct);
            var reply = await TokenAsync(new()
            {
                ["grant_type"] = "urn:ietf:params:oauth:grant-type:device_code", ["client_id"] = ClientId, ["device_code"] = device.DeviceCode,
            }, ct);
            if (reply.Error is "authorization_pending") continue;
            if (reply.Error is "slow_down")
            {
                interval += TimeSpan.FromSeconds(5);
                continue;
            }
            return Checked(reply);
        }
        throw new CliException("the code expired before it was confirmed in the browser; run 'cratus login' again");
    }

    public async Task<TokenReply> PasswordAsync(string userName, string password, string? totp, CancellationToken ct)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "password", ["client_id"] = ClientId, ["username"] = userName, ["password"] = password, ["scope"] = Scopes };
        if (!string.IsNullOrEmpty(totp)) form["totp_code"] = totp;
        return Checked(await TokenAsync(form, ct));
    }

    public async Task<TokenReply> ClientCredentialsAsync(string clientId, string secret, CancellationToken ct) =>
        Checked(await TokenAsync(new() { ["grant_type"] = "client_credentials", ["client_id"] = clientId, ["client_secret"] = secret, ["scope"] = "cratus" }, ct));

    public async Task<TokenReply> RefreshAsync(string refreshToken, CancellationToken ct) =>
        Checked(await TokenAsync(new() { ["grant_type"] = "refresh_token", ["client_id"] = ClientId, ["refresh_token"] = refreshToken }, ct));

    public async Task RevokeAsync(string token, CancellationToken ct)
    {
        using var reply = await PostAsync("connect/revoke", new() { ["client_id"] = ClientId, ["token"] = token }, ct);
    }

    private async Task<TokenReply> TokenAsync(Dictionary<string, string> form, CancellationToken ct)
    {
        using var reply = await PostAsync("connect/token", form, ct);
        try
        {
            return (await reply.Content.ReadFromJsonAsync<TokenReply>(ct))!;
        }
        catch (JsonException)
        {
            throw new CliException($"{Issuer}connect/token did not answer as an OpenID Connect token endpoint (HTTP {(int)reply.StatusCode}); check --issuer");
        }
    }

    private async Task<HttpResponseMessage> PostAsync(string path, Dictionary<string, string> form, CancellationToken ct)
    {
        try
        {
            return await _http.PostAsync(path, new FormUrlEncodedContent(form), ct);
        }
        catch (HttpRequestException failure)
        {
            throw new CliException($"cannot reach the sign-in server at {Issuer} ({failure.Message}); check --issuer or CRATUS_ISSUER");
        }
    }

    private static TokenReply Checked(TokenReply reply) => reply.Error is null && reply.AccessToken is not null ? reply : throw Refused(reply);

    private static SignInRefusedException Refused(TokenReply? reply) =>
        new($"sign-in refused: {reply?.ErrorDescription ?? reply?.Error ?? "no reason given"}{(reply?.Error is { } code ? $" ({code})" : "")}");

    public void Dispose() => _http.Dispose();
}
