using System.Security.Cryptography;
using System.Text;
using Cratus.Randomization.Domain;
using Microsoft.Extensions.Options;

namespace Cratus.Randomization.Server.Security;

/// <summary>Bound from the "Audit" section.</summary>
public sealed class AuditOptions
{
    public const string Section = "Audit";

    /// <summary>
    /// The ECDSA P-256 private key that signs the audit head a monitor records: PKCS#8, as PEM ("-----BEGIN PRIVATE
    /// KEY-----") or as the base64 of its DER bytes (one line, for an environment variable).
    /// </summary>
    public string HeadSigningKey { get; set; } = "";

    /// <summary>The key, or null with the reason it cannot be used.</summary>
    public static ECDsa? TryLoad(string value, out string problem)
    {
        problem = "";
        if (string.IsNullOrWhiteSpace(value))
        {
            problem = "Audit:HeadSigningKey is required: an ECDSA P-256 private key (PKCS#8 PEM, or the base64 of its DER)";
            return null;
        }
        var key = ECDsa.Create();
        try
        {
            if (value.Contains("-----BEGIN", StringComparison.Ordinal)) key.ImportFromPem(value);
            else
            {
                var der = Convert.FromBase64String(value.Trim());
                // PKCS#8 is documented; the SEC 1 form `openssl genpkey -outform DER` writes is accepted as well.
                try
                {
                    key.ImportPkcs8PrivateKey(der, out _);
                }
                catch (CryptographicException)
                {
                    key.ImportECPrivateKey(der, out _);
                }
            }
            if (key.KeySize != 256 || key.ExportParameters(false).Curve.Oid.Value != "1.2.840.10045.3.1.7")
            {
                problem = "Audit:HeadSigningKey must be an ECDSA key on the P-256 curve";
                key.Dispose();
                return null;
            }
            return key;
        }
        catch (Exception e) when (e is CryptographicException or FormatException or ArgumentException)
        {
            problem = "Audit:HeadSigningKey is not an ECDSA P-256 private key (PKCS#8 PEM, or the base64 of its DER)";
            key.Dispose();
            return null;
        }
    }
}

/// <summary>A head of the audit trail with its signature, checkable offline with the public key alone.</summary>
public sealed record SignedHead(string Statement, byte[] Signature, string KeyId, string PublicKeyPem);

/// <summary>
/// Signs the head of the audit trail with an asymmetric key, so a monitor who records a head can later prove it was
/// the service's, without the service and without any secret: ECDSA P-256 over SHA-256 of the UTF-8 statement of
/// <see cref="AuditChain.HeadStatement"/>, the signature DER-encoded (as OpenSSL writes and reads it). The key id
/// is the first 16 hex digits of the SHA-256 of the public key's SubjectPublicKeyInfo.
/// </summary>
public sealed class HeadSigner : IDisposable
{
    private readonly ECDsa _key;

    public HeadSigner(IOptions<AuditOptions> options)
    {
        _key = AuditOptions.TryLoad(options.Value.HeadSigningKey, out var problem) ?? throw new InvalidOperationException(problem);
        var publicKey = _key.ExportSubjectPublicKeyInfo();
        PublicKeyPem = PemEncoding.WriteString("PUBLIC KEY", publicKey) + "\n";
        KeyId = Convert.ToHexStringLower(SHA256.HashData(publicKey))[..16];
    }

    public string KeyId { get; }

    public string PublicKeyPem { get; }

    public SignedHead Sign(string trialId, AuditHead head)
    {
        var statement = AuditChain.HeadStatement(trialId, head);
        var signature = _key.SignData(Encoding.UTF8.GetBytes(statement), HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        return new SignedHead(statement, signature, KeyId, PublicKeyPem);
    }

    public void Dispose() => _key.Dispose();
}
