using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;
using TokenOptions = Cratus.Randomization.Server.Security.TokenOptions;

namespace Cratus.Randomization.Server.Identity;

/// <summary>
/// The asymmetric keys the built-in OpenID Connect server signs access and identity tokens with (RSA → RS256, ECDSA
/// P-256 → ES256). All are published in the JWKS, so another deployment or a resource server validates tokens from
/// the JWKS alone; the first signs. No symmetric signing key exists.
/// </summary>
public static class SigningKeys
{
    /// <summary>The configured keys, in order; in Development with none configured, the key kept in
    /// <see cref="TokenOptions.DevelopmentKeyPath"/> (generated on the first start).</summary>
    public static IReadOnlyList<SigningCredentials> Load(TokenOptions options, IHostEnvironment environment)
    {
        var texts = options.SigningKeys.Where(k => !string.IsNullOrWhiteSpace(k)).ToList();
        if (texts.Count == 0 && environment.IsDevelopment())
            texts.Add(DevelopmentKey(Path.GetFullPath(options.DevelopmentKeyPath, environment.ContentRootPath)));
        return texts.Select(Parse).ToList();
    }

    /// <summary>Whether every configured key parses (checked at start, so a bad key stops the server with one line).</summary>
    public static bool AllParse(TokenOptions options)
    {
        foreach (var text in options.SigningKeys.Where(k => !string.IsNullOrWhiteSpace(k)))
        {
            try
            {
                Parse(text);
            }
            catch (Exception e) when (e is CryptographicException or ArgumentException or FormatException or IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>A PKCS#8 PEM private key (RSA of at least 2048 bits, or ECDSA P-256), given as its text, the base64 of
    /// its DER, or the path of a PEM file.</summary>
    public static SigningCredentials Parse(string keyOrPath)
    {
        var text = keyOrPath.Trim();
        if (!text.StartsWith("-----", StringComparison.Ordinal) && File.Exists(text)) text = File.ReadAllText(text);
        var der = text.StartsWith("-----", StringComparison.Ordinal)
            ? Convert.FromBase64String(text[PemEncoding.Find(text).Base64Data])
            : Convert.FromBase64String(text);
        SecurityKey key;
        string algorithm;
        try
        {
            var rsa = RSA.Create();
            rsa.ImportPkcs8PrivateKey(der, out _);
            if (rsa.KeySize < 2048) throw new ArgumentException("an RSA signing key needs at least 2048 bits");
            (key, algorithm) = (new RsaSecurityKey(rsa), SecurityAlgorithms.RsaSha256);
        }
        catch (CryptographicException)
        {
            var ecdsa = ECDsa.Create();
            ecdsa.ImportPkcs8PrivateKey(der, out _);
            if (ecdsa.KeySize != 256) throw new ArgumentException("an ECDSA signing key must be on the P-256 curve");
            (key, algorithm) = (new ECDsaSecurityKey(ecdsa), SecurityAlgorithms.EcdsaSha256);
        }
        // The RFC 7638 thumbprint of the public key: the same key has the same id on every node and in every JWKS.
        key.KeyId = Base64UrlEncoder.Encode(JsonWebKeyConverter.ConvertFromSecurityKey(key).ComputeJwkThumbprint());
        return new SigningCredentials(key, algorithm);
    }

    /// <summary>A new RSA-2048 private key as PKCS#8 PEM.</summary>
    public static string NewRsaKeyPem()
    {
        using var rsa = RSA.Create(2048);
        return rsa.ExportPkcs8PrivateKeyPem();
    }

    private static string DevelopmentKey(string path)
    {
        if (File.Exists(path)) return File.ReadAllText(path);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var pem = NewRsaKeyPem();
        try
        {
            // Created only if absent: two processes starting at once keep the first one's key.
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
            using var writer = new StreamWriter(file);
            writer.Write(pem);
        }
        catch (IOException) when (File.Exists(path))
        {
            return File.ReadAllText(path);
        }
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return pem;
    }
}
