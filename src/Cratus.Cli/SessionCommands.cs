using System.CommandLine;
using System.Globalization;
using Cratus.Randomization.Protos.V1;

namespace Cratus.Cli;

/// <summary>Signing in and out, the first administrator, and a user's own password and second factor.</summary>
public static class SessionCommands
{
    public static IEnumerable<Command> Create(Func<ParseResult, CliSession> session, TextWriter output, TextReader input)
    {
        var user = new Option<string>("--user") { Description = "Your user name (with --password: the password grant, where the server enables it)" };
        var password = new Option<string?>("--password") { Description = "Password (default: CRATUS_PASSWORD, else asked for)" };
        var totp = new Option<string?>("--totp") { Description = "The current code of your authenticator app, if your account has one" };
        var clientId = new Option<string?>("--client-id") { Description = "A site system's client id: sign in with client credentials (secret from CRATUS_CLIENT_SECRET, else asked for)" };

        var login = new Command("login", "Sign in. Without options: prints a code and a link to confirm in your browser (device flow). "
            + "--client-id: a site system's client credentials, for scripts. The session is saved in your profile and refreshed as needed.") { user, password, totp, clientId };
        login.SetAction(async (p, ct) =>
        {
            var s = session(p);
            using var oidc = new OpenIdClient(s.Issuer);
            TokenReply reply;
            if (p.GetValue(clientId) is { Length: > 0 } client)
            {
                reply = await oidc.ClientCredentialsAsync(client, Secret(null, "CRATUS_CLIENT_SECRET", "Client secret: ", output, input), ct);
            }
            else if (p.GetValue(user) is { Length: > 0 } userName)
            {
                reply = await oidc.PasswordAsync(userName, Secret(p.GetValue(password), "CRATUS_PASSWORD", "Password: ", output, input), p.GetValue(totp), ct);
            }
            else
            {
                var device = await oidc.StartDeviceFlowAsync(ct);
                output.WriteLine($"To sign in, open {device.VerificationUriComplete ?? device.VerificationUri}");
                output.WriteLine($"and check that it shows the code {device.UserCode}. Waiting for you to allow it...");
                reply = await oidc.WaitForDeviceAsync(device, ct);
            }
            var saved = TokenStore.Save(reply, oidc.Issuer);
            var (subject, role, sites) = TokenStore.Describe(saved.AccessToken);
            // For --json: who signed in and until when (never the tokens, which stay in the session file).
            var shown = new Google.Protobuf.WellKnownTypes.Struct();
            shown.Fields["subject"] = Google.Protobuf.WellKnownTypes.Value.ForString(subject);
            shown.Fields["role"] = Google.Protobuf.WellKnownTypes.Value.ForString(role);
            shown.Fields["sites"] = Google.Protobuf.WellKnownTypes.Value.ForList([.. sites.Select(Google.Protobuf.WellKnownTypes.Value.ForString)]);
            shown.Fields["session_file"] = Google.Protobuf.WellKnownTypes.Value.ForString(TokenStore.PathOf());
            if (saved.AccessTokenExpiresAt is { } until)
                shown.Fields["access_until"] = Google.Protobuf.WellKnownTypes.Value.ForString(until.ToString("O", CultureInfo.InvariantCulture));
            s.Print(shown, [
                ("Signed in as", $"{subject} ({role}{(sites.Count > 0 ? ", sites " + string.Join(", ", sites) : "")})"),
                ("Session saved to", TokenStore.PathOf()),
                ("Access until", saved.AccessTokenExpiresAt?.ToString("u", CultureInfo.InvariantCulture) ?? "unknown"),
            ]);
        });

        var logout = new Command("logout", "Sign out: revoke the saved session's refresh token and forget the session.");
        logout.SetAction(async (p, ct) =>
        {
            if (TokenStore.Load() is { RefreshToken: { Length: > 0 } refresh, Issuer: { Length: > 0 } issuer })
            {
                using var oidc = new OpenIdClient(issuer);
                await oidc.RevokeAsync(refresh, ct);
            }
            output.WriteLine(TokenStore.Delete() ? "Signed out." : "No saved session.");
        });

        var secret = new Option<string>("--secret") { Description = "The one-time bootstrap secret (configured, or printed on the server's console)", Required = true };
        var fullName = new Option<string>("--full-name") { Description = "Your full name, printed in your electronic signatures", Required = true };
        var bootstrap = new Command("bootstrap", "Create the first administrator (once, on a new installation).") { secret, user, fullName, password };
        bootstrap.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new IdentityService.IdentityServiceClient(s.AnonymousChannel()).BootstrapAdministratorAsync(new BootstrapAdministratorRequest
            {
                BootstrapSecret = p.GetValue(secret)!,
                UserName = p.GetValue(user)!,
                FullName = p.GetValue(fullName)!,
                Password = Secret(p.GetValue(password), "CRATUS_PASSWORD", "New administrator password: ", output, input),
            }, cancellationToken: ct);
            s.Print(reply, [("Administrator created", reply.UserName), ("Next", "cratus login (confirm the code in your browser as " + reply.UserName + ")")]);
        });

        var totpCommand = new Command("totp", "Your authenticator app (second factor).");
        var enable = new Command("enable", "Start: shows the key to enter in your authenticator app.");
        enable.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new IdentityService.IdentityServiceClient(s.Channel()).BeginTotpEnrollmentAsync(new BeginTotpEnrollmentRequest(), cancellationToken: ct);
            s.Print(reply, [("Key", reply.SharedKey), ("URI", reply.AuthenticatorUri), ("Next", "cratus totp confirm <code from the app>")]);
        });
        var code = new Argument<string>("code") { Description = "The app's current six-digit code" };
        var confirm = new Command("confirm", "Finish: from now on, sign-in needs the app's code.") { code };
        confirm.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new IdentityService.IdentityServiceClient(s.Channel()).ConfirmTotpEnrollmentAsync(new ConfirmTotpEnrollmentRequest { Code = p.GetValue(code)! }, cancellationToken: ct);
            s.Print(reply, [("Second factor", "enabled"), ("Recovery codes", string.Join(" ", reply.RecoveryCodes)),
                ("Keep them", "each signs in once in place of a code; they are not shown again")]);
        });
        totpCommand.Subcommands.Add(enable);
        totpCommand.Subcommands.Add(confirm);

        var change = new Command("password", "Change your password (asked for twice: current, then new).");
        change.SetAction(async (p, ct) =>
        {
            var s = session(p);
            var reply = await new IdentityService.IdentityServiceClient(s.Channel()).ChangePasswordAsync(new ChangePasswordRequest
            {
                CurrentPassword = Secret(null, "CRATUS_PASSWORD", "Current password: ", output, input),
                NewPassword = Secret(null, "CRATUS_NEW_PASSWORD", "New password: ", output, input),
            }, cancellationToken: ct);
            s.Print(reply, [("Password", "changed")]);
        });

        return [login, logout, bootstrap, totpCommand, change];
    }

    /// <summary>A secret from the option, the environment, or typed without echo.</summary>
    internal static string Secret(string? given, string variable, string prompt, TextWriter output, TextReader input)
    {
        if (!string.IsNullOrEmpty(given)) return given;
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnvironment) return fromEnvironment;
        output.Write(prompt);
        if (!ReferenceEquals(input, Console.In) || Console.IsInputRedirected)
        {
            var line = input.ReadLine() ?? "";
            output.WriteLine(); // the prompt gets a line of its own, so what follows reads as it would on a terminal
            return line;
        }
        var typed = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter) break;
            if (key.Key == ConsoleKey.Backspace) { if (typed.Length > 0) typed.Length--; continue; }
            typed.Append(key.KeyChar);
        }
        output.WriteLine();
        return typed.ToString();
    }
}
