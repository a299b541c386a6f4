using System.CommandLine;
using System.Security.Claims;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Cratus.Cli;

/// <summary>
/// Mints a token signed with the development key, for the quick start against a server in the Development
/// environment. A server anywhere else refuses to start with that key, so these tokens work nowhere else.
/// </summary>
public static class DevTokenCommand
{
    // The same committed development values as the server's appsettings.Development.json.
    public const string DevelopmentSigningKey = "cratus-development-signing-key-NOT-FOR-PRODUCTION-0001";
    public const string DevelopmentIssuer = "cratus-development";
    public const string DevelopmentAudience = "cratus-randomization";

    private static readonly string[] Roles = ["site_coordinator", "investigator", "pharmacist", "statistician", "dsmb_member", "monitor", "administrator"];

    public static Command Create(TextWriter output)
    {
        var role = new Option<string>("--role") { Description = "One of: " + string.Join(", ", Roles), Required = true };
        role.AcceptOnlyFromAmong(Roles);
        var sites = new Option<string[]>("--site") { Description = "Site served (site roles; repeat for several)", AllowMultipleArgumentsPerToken = true };
        var user = new Option<string?>("--user") { Description = "User name (default: dev-<role>)" };
        var minutes = new Option<int>("--minutes") { Description = "Lifetime in minutes", DefaultValueFactory = _ => 60 };
        var key = new Option<string>("--signing-key") { Description = "Signing key (default: the development key)", DefaultValueFactory = _ => DevelopmentSigningKey };
        var print = new Option<bool>("--print") { Description = "Also print the token" };

        var command = new Command("dev-token", "Mint a development token for a role and save it in your profile (Development servers only).")
        {
            role, sites, user, minutes, key, print,
        };
        command.SetAction(p =>
        {
            var roleValue = p.GetValue(role)!;
            var siteValues = p.GetValue(sites) ?? [];
            if (roleValue is "site_coordinator" or "investigator" && siteValues.Length == 0)
                throw new CliException("a site role needs at least one --site");
            var claims = new List<Claim> { new("sub", p.GetValue(user) ?? "dev-" + roleValue.Replace('_', '-')), new("role", roleValue) };
            claims.AddRange(siteValues.Select(s => new Claim("site", s)));
            var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
            {
                Issuer = DevelopmentIssuer,
                Audience = DevelopmentAudience,
                Subject = new ClaimsIdentity(claims),
                Expires = DateTime.UtcNow.AddMinutes(p.GetValue(minutes)),
                SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(p.GetValue(key)!)), SecurityAlgorithms.HmacSha256),
            });
            TokenStore.Save(new SavedSession(token, null, null));
            output.WriteLine($"Signed in as {claims[0].Value} ({roleValue}{(siteValues.Length > 0 ? ", sites " + string.Join(", ", siteValues) : "")}); token saved to {TokenStore.PathOf()}");
            if (p.GetValue(print)) output.WriteLine(token);
        });
        return command;
    }
}
