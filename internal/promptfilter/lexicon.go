package promptfilter

// concept is a set of meanings a word carries, one bit each. Rules are
// written over concepts, not words, so one rule covers every language and
// inflection the lexicon lists.
type concept uint64

const (
	cIgnore     concept = 1 << iota // ignore, disregard, forget, override, vergiss, oubliez, 忽略
	cInstr                          // instructions, rules, guidelines, directives, Anweisungen, consignes
	cPrior                          // previous, prior, earlier, initial, original, vorherigen, précédentes
	cAll                            // all, every, any, alle, toutes, todas
	cAbove                          // above, before, so far: what came earlier in the text
	cYour                           // your, dein, ton, tus, tuo, seu, jouw
	cYou                            // you, du, tu, usted, voce, jij
	cMy                             // my, I, me, mein, mes, mi, mijn: the writer's own things
	cSys                            // system, developer, operator, admin: the operator side
	cPrompt                         // prompt, pre-prompt, system prompt
	cReveal                         // repeat, reveal, show, print, output, tell, list
	cQuestion                       // what, which, welche, quels, cuál
	cNew                            // new, updated, neue, nouvelles, nuevas
	cNow                            // now, henceforth, jetzt, maintenant, ahora
	cBe                             // are, is, be, was, bist, es, eres, sei
	cAct                            // act, pretend, roleplay, simulate, imagine, fingi, finja
	cAs                             // as, like, als, comme, como
	cPersona                        // character, persona, role, villain, hacker, grandma
	cJailbreak                      // jailbreak, uncensored, unfiltered, unrestricted, amoral
	cMode                           // mode, Modus, modalità, modo
	cModeKind                       // developer, god, sudo, admin, debug, maintenance (before "mode")
	cWithout                        // without, no, free of, ohne, sans, sin, senza, zonder
	cLimit                          // restrictions, limits, filters, censorship, ethics, guardrails
	cDomain                         // delivery, washing, assembly, return, TV: ordinary things with instructions
	cDecode                         // decode, decrypt, convert, backwards
	cEncoding                       // base64, hex, rot13, binary
	cObey                           // follow, obey, execute, comply
	cNot                            // not, don't, stop, never, no longer, nicht, ne, non
	cAI                             // AI, assistant, chatbot, LLM, GPT, KI, IA
	cSecret                         // secretly, covertly, silently, heimlich
	cUser                           // user, customer, Nutzer, utilisateur
	cTell                           // tell, inform, notify, mention
	cSend                           // send, forward, email, upload, exfiltrate
	cSecretData                     // password, credentials, api key, card number, cvv
	cSay                            // say, respond, reply, answer, output, write
	cPwned                          // pwned, hacked (as a payload word)
	cVerbatim                       // verbatim, word for word, mot pour mot
	cEverything                     // everything, anything, whatever, alles, tout
	cEnd                            // end, begin, start (of a section)
	cInput                          // input, conversation, document, text, message, chat
	cActivate                       // enable, activate, enter, switch, unlock
	cPriority                       // priority, precedence, highest
	cAddress                        // attention, note, dear, reading: how a text hails a reader
	cInstead                        // instead, rather, stattdessen, plutôt
	cTold                           // told, given, programmed, instructed, received
	cRestricted                     // restricted, censored, filtered, limited (as states)
	cVoid                           // void, invalid, cancelled, obsolete, aufgehoben, annulées
	cValid                          // valid, gültig, valables (in "no longer valid")
	cStay                           // stay, remain, break (character), bleib, reste
	cRefuse                         // refuse, decline, apologise, warn
	cMust                           // must, will, shall, have to
	cFreed                          // freed, broken free, liberated, escaped
	cTask                           // task, purpose, job, mission, Aufgabe, tâche
	cIf                             // if, wenn, falls, si, se
	cContext                        // context, context window, memory
	cOnly                           // only, just, solo, nur, seulement
	cLink                           // a URL or an e-mail address (set by the tokenizer, not the lexicon)
	cDAN                            // DAN, STAN, AIM, DUDE: persona names when written in capitals
	cWords                          // words, text, wording, sentence, lines, Wörter, mots
	cHidden                         // hidden, secret, confidential, internal, geheim
	cPrep                           // for, about, on, of, für, de, pour, para, per, voor: what ties a noun to its topic
	cSafety                         // safety, security, guardrails, content policy: the model's protections
	cApply                          // apply, count, hold, gelten, s'appliquent, valen (of rules)
	cMyWill                         // "what I say", "was ich sage", "ce que je dis": the writer's will as law
)

// lexicon lists the words of each concept. A word ending in '*' is a stem
// and matches every word it begins; stems are used for the inflected
// languages and kept long enough not to begin ordinary words (German
// "regel" begins "regelmäßig", so "regeln" is listed whole). A word with
// '_' is a phrase of several words ("do_anything_now"); a word with '-'
// is both its hyphenated phrase and the words run together ("role-play"
// is "role play" and "roleplay"). Words are folded the way input text is
// folded (lower case, accents and marks removed), so accents may be written
// or not. Chinese words are matched inside runs of Han characters.
//
// The languages are English, German, French, Spanish, Italian, Portuguese
// and Dutch, in that order on each concept's lines, then Polish, Russian
// and Chinese where they were cheap to add.
var lexicon = []struct {
	c     concept
	words string
}{
	{cIgnore, `
		ignore ignores ignored ignoring disregard disregards disregarded disregarding forget forgetting forgot
		overlook bypass bypassing override overriding overwrite discard dismiss neglect abandon
		supersede supersedes overrule overrules set_aside pay_no_attention drop scrap cancel revoke
		ignorier* vergiss vergessen vergesst vergesse missacht* uberspring* ubergeh* verwirf hinwegsetz* setze_dich_uber
		ignore ignorez ignorer ignores oublie oubliez oublier oublies neglige negligez fais_abstraction
		ne_tiens_pas_compte ne_tenez_pas_compte
		ignora ignore ignoren ignorar olvida olvide olviden olvidar omite omitir descarta descartar
		no_hagas_caso
		ignora ignori ignorare ignorate dimentica dimentichi dimenticare dimenticate trascura tralascia
		ignore ignora ignorar esqueca esquecer esqueci desconsidere desconsidera desconsiderar
		negeer negeren negeert vergeet
		ignoruj zignoruj ignorowac zapomnij zapomniec pomin pominac
		игнорир* проигнорир* забуд* забыть пропусти отбрось
		忽略 忽视 无视 無視 忽視 忘记 忘掉 忘記 跳过 跳過 不要理会 不理会 别管
		nevermind never_mind
		erase delete wipe clear throw_away get_rid_of disobey scrap_all lösche losche vergeet_alles efface effacez borra borre cancella apaga wis`},
	{cInstr, `
		instruction instructions directive directives directions rule rules guideline guidelines guidance
		programming constraints policies commands orders_you_were_given
		anweisung* instruktion* regeln richtlini* vorgabe* befehl* direktive*
		instructions consigne* regles directives
		instruccion* reglas regla directrices indicaciones
		istruzion* regole direttiv* indicazioni
		instruc* regras diretrizes orientacoes
		instructie* regels richtlijn*
		instrukcj* polecen* zasady regul* wytyczn*
		инструкци* правил* указани* директив*
		指令 指示 规则 規則 命令 设定 設定 指引 准则 準則`},
	{cPrior, `
		previous prior earlier preceding former initial original foregoing first
		vorherig* bisherig* vorig* fruher* vorangegang* ursprunglich* obig*
		precedent* anterieur* initial* origine originaux originales
		anterior* previ* original* inicial*
		precedent* iniziali originali
		anterior* previas previos iniciais originais
		vorige eerdere oorspronkelijke bovenstaand*
		poprzedn* wczesniejsz* pierwotn* powyzsz*
		предыдущ* прежн* предшествующ* изначальн* исходн*
		之前 以前 先前 前面 原来 原來 原始
		old older alte alten alter anciennes anciens ancien antiguas antiguos antigua vecchie vecchi vecchia antigas antigos antiga oude`},
	{cAll, `
		all every any entire whole complete full
		alle jede gesamte samtliche vollstandig*
		tout toutes tous toute complet complete
		todo todas todos toda cualquier completo
		tutto tutte tutti tutta qualsiasi completo
		tudo todas todos toda qualquer completo
		alle elke volledig*
		wszystk* kazd*
		все всех любые
		所有 全部 任何`},
	{cAbove, `
		above before earlier hitherto so_far up_to_now
		oben obige obigen davor zuvor
		ci-dessus dessus avant auparavant
		arriba anterior antes
		sopra prima
		acima antes
		boven hierboven
		wyzej powyzej
		выше ранее
		上面 以上 上述`},
	{cYour, `
		your yours yourself
		dein deine deinen deiner deines ihre ihren ihrer eure euren
		ton ta tes votre vos
		tu tus su sus vuestro vuestras vuestros
		tuo tua tuoi tue vostro vostre vostri sue
		seu sua seus suas teu tua teus tuas
		jouw je uw
		twoj* swoj* wasz*
		твои твоих твой твоя свои своих свой ваши ваших ваш
		你的 您的`},
	{cYou, `
		you u yourself youre youve youll youd
		du dich dir
		tu toi vous
		tu usted ustedes
		tu te
		voce voces
		jij je u
		ty ciebie tobie
		ты тебя тебе вы вас вам
		你 您
		ti t`},
	{cMy, `
		my mine myself i im ive id me our
		mein meine meinen meiner meines ich mir unsere
		mes mon ma moi nos notre
		mi mis yo nuestro nuestra
		mio mia miei mie io nostro nostra
		meu minha meus minhas eu nosso nossa
		mijn ik ons onze
		moj* ja mnie nasz*
		мой моя мои моих мне я наш наши
		我的 我
		ho he`},
	{cSys, `
		system systems developer developers admin administrator operator operators openai anthropic creators
		systemnachricht entwickler* administrator betreiber
		systeme developpeur* administrateur operateur
		sistema desarrollador* administrador operador
		sistema sviluppator* amministrator* operatore
		sistema desenvolvedor* administrador
		systeem ontwikkelaar* beheerder
		deweloper* programist* administrator*
		систем* разработчик* администратор*
		系统 系統 开发者 開發者 开发人员 管理员 管理員`},
	{cPrompt, `
		prompt prompts preprompt metaprompt systemprompt system_prompt
		systemprompt
		prompt_systeme
		prompt_del_sistema
		prompt_di_sistema
		prompt_do_sistema prompt_de_sistema
		systeemprompt
		промпт*
		提示词 提示詞 提示语 系统提示 系統提示
		system_message developer_message system_instructions systemnachricht message_systeme mensaje_del_sistema messaggio_di_sistema mensagem_do_sistema systeembericht
		instrucciones_del_sistema istruzioni_di_sistema instructions_systeme instrucoes_de_sistema instrucoes_do_sistema systeeminstructies systemanweisungen systemanweisung`},
	{cReveal, `
		repeat reveal show print output display tell give share leak dump recite list write spell
		expose disclose provide paste copy echo translate summarize summarise describe quote
		wiederhole wiederhol* zeig zeige zeigen verrate verraten nenne nennen gib gebt schreib* druck* ausgeben offenleg*
		repete repetez repeter montre montrez montrer affiche affichez afficher revele revelez reveler donne donnez
		dis dites ecris ecrivez cite citez
		repite repita repetir muestra muestrame muestre mostrar revela revele revelar dime dame imprime escribe escribelas
		ripeti ripetere mostra mostrami mostrare rivela rivelare dimmi dammi stampa scrivi scrivile
		repita repete repetir mostre mostra mostrar revele revela revelar diga imprima escreva
		herhaal herhalen toon tonen laat onthul* geef geven print schrijf
		powtorz pokaz ujawnij ujawn* wypisz wyswietl podaj napisz zdradz
		повтори повторить покажи показать раскрой раскрыть выведи вывести напиши скажи дай распечатай
		重复 重複 显示 顯示 展示 告诉我 告訴我 输出 輸出 打印 透露 泄露 洩露 说出 說出 给我看 給我看
		see view zitiere zitier* cite citez cita citalas citale cite revel* rivel* mostr* muestr* montr* zeig* affich* copia copie copy recopie kopieer kopiere schreib_ab`},
	{cQuestion, `
		what which whats
		was welche welches welcher
		quelles quels quelle quel
		cuales cual que
		quali quale
		quais qual
		wat welke
		jakie jaka jaki
		какие какая какой каковы
		什么 什麼 哪些
		wie_lautet lautet`},
	{cNew, `
		new updated revised
		neue neuen neues neuer aktualisierte
		nouvelle nouvelles nouveau nouveaux
		nueva nuevas nuevo nuevos
		nuova nuove nuovo nuovi
		nova novas novo novos
		nieuwe nieuw
		nowe nowy nowa nowych
		новые новая новый новых
		新的 新
		real actual
		changed replaced modified geandert changees modifiees cambiadas cambiate alteradas gewijzigd`},
	{cNow, `
		now henceforth forthwith onwards from_now_on from_this_point_on from_this_point
		jetzt nun ab_jetzt ab_sofort sofort
		maintenant desormais a_partir_de_maintenant
		ahora desde_ahora a_partir_de_ahora
		ora adesso d_ora_in_poi da_ora
		agora a_partir_de_agora de_agora_em_diante
		nu voortaan vanaf_nu
		teraz odtad
		теперь отныне сейчас
		现在 現在 从现在开始 從現在開始 从今以后`},
	{cBe, `
		are is be become becomes am was were
		bist bin ist sind sei wirst warst
		es est etes suis
		eres es sea
		sei sarai
		es e sera
		bent ben wordt
		jestes bedziesz
		являешься будешь
		是 成为 成為
		re m s`},
	{cAct, `
		act acting pretend pretending role-play roleplaying role-playing simulate simulating imagine impersonate emulate
		behave play
		spiele spiel spielst verhalte stell_dir_vor tu_so
		fais_comme_si joue jouer imagine simule comporte
		actua actue actuar finge finja fingir imagina simula comportate haz_como_si
		fingi fingere recita comportati simula immagina interpreta
		finja finge aja agir simule imagine interprete
		doe_alsof speel gedraag
		udawaj zachowuj wciel odgrywaj symuluj
		притворись притворяйся представь сыграй играй
		扮演 假装 假裝 模拟 模擬 充当 充當
		roleplay`},
	{cAs, `
		as like
		als wie
		comme
		como
		come
		como
		als
		jak jako
		как
		作为 作為`},
	{cPersona, `
		persona character personality alter_ego villain hacker criminal pirate grandma grandmother grandfather grandpa
		evil rogue
		rolle figur charakter bose
		personnage role malefique
		personaje papel malvado
		personaggio ruolo malvagio
		personagem papel malvado
		rol personage kwaadaardig*
		postac
		персонаж роль
		角色 人格
		late_uncle late_aunt late_grandmother late_grandfather late_grandma late_grandpa late_father late_mother late_dad late_mom late_mum dead_grandmother dead_grandma dead_grandfather deceased_grandmother deceased_grandfather deceased_mother deceased_father used_to_read_me used_to_tell_me always_read_me`},
	{cJailbreak, `
		jailbreak jailbroken jailbreaking unfiltered uncensored unrestricted unbound unchained
		amoral antigpt betterdan do_anything_now strive_to_avoid_norms
		ungefiltert* unzensiert* uneingeschrankt*
		sans_filtre non_censure non_censuree
		sin_censura sin_filtro
		senza_censura senza_filtri non_censurat*
		sem_censura sem_filtro
		ongecensureerd ongefilterd
		nieocenzurowan* nieograniczon*
		неограниченн* нецензурн* джейлбрейк
		越狱 越獄`},
	{cMode, `
		mode modes modus mode modo modalita tryb trybie режим режиме 模式`},
	{cModeKind, `
		developer dev god sudo admin root debug maintenance unrestricted unfiltered jailbreak superuser opposite evil
		entwickler* admin* gott
		developpeur dieu
		desarrollador dios
		sviluppatore dio
		desenvolvedor deus
		ontwikkelaar* beheerder
		dewelopera deweloperski* boga
		разработчик* бога администратор*
		开发者 開發者 上帝 管理员 越狱`},
	{cWithout, `
		without no zero free_of free_from free_from_all
		ohne keine kein frei
		sans aucune aucun
		sin ninguna ningun
		senza nessuna nessun ne
		sem nenhuma nenhum
		zonder geen
		bez zadnych
		без никаких
		没有 沒有 不受 无 無 去除`},
	{cLimit, `
		restrictions restriction limits limitations limitation filters filter censorship ethics morals morality
		boundaries guardrails safeguards constraints rules guidelines policies content_policy ethical_guidelines
		einschrankung* beschrankung* grenzen filter zensur ethik moral regeln
		restrictions limites filtres censure ethique morale regles
		restricciones limites filtros censura etica moral reglas
		restrizioni limiti filtri censura etica morale regole
		restricoes limites filtros censura etica moral regras
		beperking* grenzen filters censuur ethiek regels
		ograniczen* filtrow cenzur* etyki zasad
		ограничени* фильтр* цензур* правил* этик*
		限制 过滤 過濾 审查 審查 道德 规则 規則
		restriction* restriccion* restrizion* restric* limite richtlini* inhaltsrichtlini* beperking* content_policy
		rule regel regle regla regola regra`},
	{cDomain, `
		delivery deliveries deliver delivered shipping ship shipment package packages parcel parcels courier driver postman
		mailbox door doorstep porch neighbour neighbor neighbours neighbors gate concierge reception pickup locker
		assembly assemble assembling installation install installing setup care washing wash cleaning laundry
		manual return returns returning refund refunds exchange warranty product item items recipe cooking dosage
		gift wrapping label labels box packaging battery charging device payment bank transfer sizing fitting
		storage usage operating dryer machine oven printer order orders store shop giveaway contest
		coupon coupons voucher vouchers discount discounts sale checkout cart invoice invoices
		tv television phone smartphone tablet laptop console app camera router thermostat speaker vacuum
		lieferung* liefer versand* paket* zusteller* kurier* nachbar* haustur* briefkast* abstell* aufbau* montage* pflege*
		wasch* reinigung* bedienung* gebrauch* ruckgab* rucksend* erstattung* umtausch* garantie* zahlung*
		uberweisung* artikel* produkt* geschenk* etikett* bestell* gewinnspiel* fernseher* handy* gerat
		livraison* livr* expedition* colis livreur* transporteur* facteur voisin* porte montage installation*
		entretien lavage nettoyage utilisation emploi retour* rembourse* echange* garantie paiement virement
		article* produit* cadeau* etiquette* commande* concours
		entrega* envio* paquete* repartidor* mensajero* vecino* puerta buzon montaje instalacion* cuidado*
		lavado limpieza devolucion* reembolso* cambio garantia pago transferencia articulo* producto*
		regalo* etiqueta* pedido* sorteo
		consegna* spedizion* pacco corriere vicino porta montaggio installazion* lavaggio pulizia reso resi
		rimborso cambio garanzia pagamento bonifico articol* prodott* regalo etichett* ordine concorso
		entrega* envio* pacote* encomenda* entregador* vizinho* porta montagem instalac* lavagem limpeza
		devoluc* reembolso troca garantia pagamento transferencia artigo* produto* presente etiqueta* pedido*
		levering* bezorg* verzend* pakket* koerier* buren buurman deur brievenbus montage installatie* onderhoud
		wassen reiniging* gebruik* retour* terugbetal* ruilen garantie betaling* artikel* product* cadeau* label
		bestelling* winactie
		dostaw* wysylk* paczk* kurier* sasiad* drzwi montaz* instalacj* pran* czyszczen* uzytkowan* obslug* zwrot*
		reklamacj* wymian* gwarancj* platnos* przelew* produkt* prezent* etykiet* zamowien*
		доставк* посылк* курьер* сосед* двер* сборк* установк* уход* стирк* чистк* эксплуатаци* использовани*
		возврат* обмен* гаранти* оплат* товар* подар* этикетк* заказ*
		快递 快遞 配送 送货 送貨 包裹 物流 邻居 鄰居 门口 門口 安装 安裝 组装 組裝 洗涤 洗滌 清洗 使用 说明书
		說明書 退货 退貨 退款 换货 換貨 保修 付款 支付 商品 产品 產品 礼物 禮物 标签 標籤 订单 訂單
		labelling labeling packing packaging
		leaflet booklet sheet card`},
	{cDecode, `
		decode decoded decoding decrypt decipher unscramble convert reverse deobfuscate backwards backward reversed
		dekodier* entschlussel* ruckwarts
		decode decodez decoder dechiffre dechiffrez a_l_envers
		decodifica decodifique decodificar descifra al_reves
		decodifica decodificare decifra al_contrario
		decodifique decodificar decifre ao_contrario
		decodeer ontcijfer achterstevoren
		zdekoduj dekoduj odszyfruj
		декодируй расшифруй
		解码 解碼 解密`},
	{cEncoding, `
		base64 b64 hex hexadecimal rot13 rot-13 binary morse caesar atbash base32 base58 urlencoded
		hexadezimal hexadecimale szesnastkow* шестнадцатеричн*
		十六进制 十六進制 二进制 二進制`},
	{cObey, `
		follow following obey obeying execute comply adhere abide perform carry_out do_what_i_say
		befolge befolgen folge folgen ausfuhren fuhre gehorche
		suis suivez suivre suivant executez obeis obeissez applique
		sigue siga seguir ejecuta ejecute obedece obedeces cumple
		segui seguire seguirai esegui eseguire obbedisci obbedire
		segue seguir execute executa obedeca cumpra obedecer
		volg volgen voer_uit gehoorzaam
		wykonaj wykonuj postepuj przestrzegaj sluchaj
		выполни выполняй следуй подчиняйся
		执行 執行 遵循 遵守 服从 服從 照做`},
	{cNot, `
		not dont never stop no_longer cease
		nicht nie hor_auf aufhoren nicht_mehr
		ne pas jamais arrete arretez ne_plus
		no nunca deja_de dejes ya_no
		non mai smetti non_piu
		nao nunca pare nao_mais
		niet nooit stop niet_meer
		nie przestan
		не никогда перестань хватит
		不要 不再 停止 别 別`},
	{cAI, `
		ai assistant assistants chatbot bot llm llms gpt chatgpt claude gemini copilot language_model language_models
		ai_model ai_models ai_agent ai_agents ai_system ai_systems
		ki ki-assistent assistent* sprachmodell*
		ia assistant modele_de_langage
		ia asistente
		ia assistente
		ia assistente
		ai assistent taalmodel*
		asystent* czatbot*
		ии ассистент* нейросет*
		人工智能 助手 助理 机器人 機器人 大模型`},
	{cSecret, `
		secretly covertly silently quietly discreetly unnoticed stealthily without_telling without_informing
		heimlich unbemerkt
		secretement discretement
		secretamente discretamente
		segretamente di_nascosto
		secretamente discretamente
		stiekem heimelijk
		potajemnie dyskretnie
		тайно незаметно скрытно втихую
		偷偷 秘密地 悄悄`},
	{cUser, `
		user users customer customers human
		benutzer* nutzer* kunde kunden
		utilisateur* client clients
		usuario* cliente clientes
		utente utenti cliente clienti
		usuario* cliente clientes
		gebruiker* klant klanten
		uzytkownik* klient*
		пользовател* клиент*
		用户 用戶 客户 客戶`},
	{cTell, `
		tell inform notify mention alert warn
		sag sage informiere erwahne
		dis informe mentionne previens
		digas informes menciones avises dile
		dire informare menzionare avvisare
		diga informe mencione avise
		vertel informeer meld
		mow informuj wspominaj
		говори сообщай упоминай
		告诉 告訴 通知 提及
		telling informing notifying mentioning
		ask asking request frag frage demande demander pregunta pide chiedi pergunte vraag`},
	{cSend, `
		send forward email e-mail mail upload post exfiltrate transmit leak submit
		sende schicke ubermittle leite_weiter
		envoie envoyez transmets transmettez
		envia envie reenvia manda
		invia inoltra manda
		envie envia encaminhe mande
		stuur verstuur
		wyslij przeslij
		отправь отправьте перешли
		发送 發送 转发 轉發`},
	{cSecretData, `
		password passwords passcode credentials credential api-key apikey token tokens secret secrets
		ssn cvv cvc pin private-key conversation_history chat-history cookies card_number credit_card payment_details
		passwort passworter zugangsdaten kennwort kundendaten
		mot_de_passe identifiants
		contrasena contrasenas credenciales
		credenziali
		senha senhas credenciais
		wachtwoord inloggegevens
		haslo hasla
		пароль пароли
		密码 密碼 凭证 憑證`},
	{cSay, `
		say says respond reply answer output write print type begin
		sag sage antworte antwortest schreib
		dis reponds repondez ecris
		di responde respondes escribe
		di rispondi scrivi
		diga responda escreva
		zeg antwoord schrijf
		powiedz odpowiedz napisz
		скажи ответь напиши
		说 說 回答 回复 回覆`},
	{cPwned, `pwned pwn pwnd haxxored compromised`},
	{cVerbatim, `
		verbatim word_for_word word-by-word unaltered unmodified as_written
		wortwortlich wortlich
		mot_pour_mot textuellement
		textualmente literalmente palabra_por_palabra
		testualmente letteralmente parola_per_parola
		literalmente palavra_por_palavra
		letterlijk woordelijk woord_voor_woord
		doslownie
		дословно слово-в-слово
		逐字 原文 一字不差`},
	{cEverything, `
		everything anything whatever
		alles
		tout
		todo
		tutto
		tudo
		alles
		wszystko
		всё все
		一切 所有内容`},
	{cEnd, `
		end begin beginning start ends
		ende beginn anfang
		fin debut
		fin inicio comienzo
		fine inizio
		fim inicio
		einde begin
		koniec poczatek
		конец начало
		结束 結束 开始 開始
		top`},
	{cInput, `
		input conversation document message session chat transcript
		eingabe gesprach* unterhaltung
		entree conversation
		entrada conversacion
		conversazione
		conversa
		invoer gesprek
		rozmow*
		ввод разговор*
		输入 輸入 对话 對話`},
	{cActivate, `
		enable enabled activate activated enter entering switch unlock unlocked engage on
		aktiviere aktivier* wechsle schalte
		active activez passe
		activa active activar entra pasa
		attiva attivare entra passa
		ative ativa ativar entre
		activeer schakel
		aktywuj wlacz przejdz
		включи активируй перейди
		启用 啟用 激活 进入 進入 开启 開啟 切换 切換`},
	{cPriority, `
		priority precedence highest_priority top_priority
		vorrang prioritat
		priorite prioritaire
		prioridad
		priorita
		prioridade
		voorrang prioriteit
		priorytet*
		приоритет*
		优先 優先 最高`},
	{cAddress, `
		attention dear reading processing summarizing summarising note_to note_for notice_to ps_to
		achtung hinweis_an hinweis_fur
		note_pour remarque_pour a_l_attention
		nota_para atencion
		nota_per attenzione
		nota_para atencao
		opmerking_voor let_op
		uwaga
		внимание
		注意`},
	{cInstead, `
		instead rather
		stattdessen sondern
		plutot a_la_place
		en_cambio en_lugar
		invece
		em_vez ao_inves
		in_plaats
		zamiast
		вместо
		而是 改为 改為`},
	{cTold, `
		told given gave programmed trained instructed configured received
		gesagt gegeben programmiert trainiert angewiesen bekommen erhalten
		dit donne donnees donnes programme entraine recu recues
		dicho dado dieron programado entrenado recibido recibiste
		detto dato dato programmato addestrato ricevuto dato_a_te hanno_dato
		dito dado deram programado treinado recebeu recebido
		gezegd gegeven verteld geprogrammeerd getraind gekregen
		powiedziano zaprogramowan*
		сказали дали запрограммирован*
		告诉过 告訴過 给你的 給你的
		vorgegeben auferlegt mitgeteilt beigebracht imposees imposes impuestas impuestos imposte imposti impostas impostos opgelegd`},
	{cRestricted, `
		restricted censored filtered limited bound constrained moderated
		eingeschrankt zensiert gefiltert
		restreint censure filtre limite
		restringido censurado filtrado limitado
		limitato censurato filtrato
		restrito censurado filtrado limitado
		beperkt gecensureerd
		ograniczony cenzurowany
		ограничен цензурирован
		受限 审查 審查`},
	{cVoid, `
		void invalid cancelled canceled obsolete outdated revoked rescinded lifted superseded null_and_void nullified
		aufgehoben ungultig annulliert veraltet
		annulees annulee annules invalides caduques obsoletes perimees
		anuladas anulados invalidas invalidos obsoletas
		annullate annullati nulle obsolete
		canceladas canceladas anuladas invalidas obsoletas
		vervallen ongeldig geannuleerd verouderd
		irrelevant moot`},
	{cValid, `
		valid gultig valables valable validas validos valide valide validi validas geldig`},
	{cStay, `
		stay remain break breaking
		bleib bleibe bleiben
		reste restez sors
		quedate salgas permanece
		resta resti esci uscire
		fique saia permaneca
		blijf`},
	{cRefuse, `
		refuse refuses refusing decline declines apologize apologise
		verweigere verweigern ablehnen
		refuse refuser
		niegues rechazar
		rifiutare rifiuti
		recuse recusar
		weiger weigeren`},
	{cMust, `
		must will shall have_to need_to
		musst wirst sollst
		dois devras
		debes deberas
		devi dovrai
		deve devera
		moet zult`},
	{cFreed, `
		freed liberated escaped broken_free broke_free unshackled
		befreit
		libere liberee
		liberado liberada
		liberato liberata
		libertado libertada
		bevrijd`},
	{cTask, `
		task purpose job mission goal objective
		aufgabe zweck
		tache mission objectif
		tarea mision objetivo
		compito missione obiettivo
		tarefa missao objetivo
		taak opdracht doel`},
	{cIf, `
		if whether
		wenn falls
		si
		si
		se
		se
		als indien`},
	{cContext, `
		context context_window memory
		kontext kontextfenster
		contexte
		contexto
		contesto
		contexto
		context`},
	{cOnly, `
		only just solely
		nur
		seulement uniquement
		solo solamente unicamente
		solo soltanto
		apenas somente
		alleen enkel`},
	{cWords, `
		words text wording sentence sentences lines paragraph
		worter text wortlaut
		mots texte
		palabras texto
		parole testo
		palavras texto
		woorden tekst`},
	{cHidden, `
		hidden secret confidential internal private
		geheim* versteckt* vertraulich* interne internen
		cache cachees cachee confidentiel* secrete secretes interne internes
		oculto oculta ocultas ocultos confidencial* interna internas interno internos
		nascost* segret* riservat* interna interne interno interni
		oculto oculta ocultas ocultos confidencia* interna internas
		verborgen vertrouwelijk* interne`},
	{cPrep, `
		for about on of regarding concerning to
		fur zum zur zu von uber bei
		de du des pour sur concernant
		de del para sobre
		di del della dello dei delle per su sul sulla
		de do da dos das para sobre
		voor van over bij
		dla o na
		in inside im dans nel nella nei`},
	{cSafety, `
		safety security guardrails guardrail safeguards safety_rules safety_guidelines safety_filters content_policy
		content_filter content_filters censorship ethics ethical_guidelines moderation
		sicherheit* sicherheitsrichtlini* inhaltsrichtlini* zensur ethik
		securite censure ethique moderation
		seguridad censura etica moderacion
		sicurezza censura etica moderazione
		seguranca censura etica moderacao
		veiligheid* censuur ethiek moderatie`},
	{cApply, `
		apply applies matter matters count hold
		gelten gilt zahlen
		appliquent applique comptent
		aplican aplica valen cuentan
		valgono vale contano
		valem aplicam contam
		gelden tellen`},
	{cMyWill, `
		do_what_i_say do_as_i_say what_i_say what_i_tell_you whatever_i_say what_i_command
		was_ich_sage was_ich_dir_sage was_ich_will
		ce_que_je_dis ce_que_je_te_dis ce_que_je_veux
		lo_que_yo_diga lo_que_yo_digo lo_que_te_diga lo_que_diga
		quello_che_dico quello_che_ti_dico
		o_que_eu_mandar o_que_eu_digo o_que_eu_disser
		wat_ik_zeg wat_ik_wil`},
}
